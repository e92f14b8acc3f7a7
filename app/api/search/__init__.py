"""GraphQL search: hybrid search over moments and assets."""
