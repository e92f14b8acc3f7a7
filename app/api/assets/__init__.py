"""GraphQL schema code of the assets domain."""
