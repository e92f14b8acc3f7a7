"""The GraphQL API: strawberry schema code over the domain services (the only strawberry user)."""
