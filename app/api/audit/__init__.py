"""GraphQL schema code of the audit domain."""
