"""GraphQL adapter of webhooks."""
