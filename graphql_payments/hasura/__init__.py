"""Hasura: the Actions handler (`POST /hasura/actions`) and the metadata an operator pastes
into Hasura (`graphql-payments hasura metadata`), both derived from the GraphQL schema."""
