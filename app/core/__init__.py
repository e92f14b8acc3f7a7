"""Shared kernel of the service: settings, database, blobs, events, errors, enums, telemetry."""
