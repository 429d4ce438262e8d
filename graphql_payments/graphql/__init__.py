"""The GraphQL API: schema composition, context, errors as data, permissions, pagination."""
