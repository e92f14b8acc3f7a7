"""GraphQL schema code of the jobs domain."""
