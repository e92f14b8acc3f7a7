"""The composition root: the CLI, the ASGI app factory and the wiring of services."""
