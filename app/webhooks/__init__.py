"""Webhooks: endpoints a tenant's admins register, and the signed deliveries of its events."""
