"""Stage implementations, one module per pipeline area (each with ``register_stages``)."""
