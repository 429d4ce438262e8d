import sys

from graphql_payments.cli import main

sys.exit(main())
