"""GraphQL schema code of the media domain."""
