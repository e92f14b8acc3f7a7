"""Builds the services of one process from settings."""

from __future__ import annotations

from app.blobs import create_blob_store
from app.container import Services
from app.db import create_engine, create_session_factory
from app.pubsub import create_publisher
from app.settings import Settings
from app.telemetry.sqlalchemy import instrument_engine


def build_services(settings: Settings) -> Services:
    """Engine, sessions, blobs and pub/sub as the settings' URLs say (no I/O yet)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        settings.database_url, echo=settings.database_echo, pool_size=settings.database_pool_size
    )
    instrument_engine(engine)  # a span and a duration sample per statement batch
    return Services(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine),
        blobs=create_blob_store(settings.blob_url),
        publisher=create_publisher(settings.pubsub_url, prefix=settings.redis_key_prefix),
    )
