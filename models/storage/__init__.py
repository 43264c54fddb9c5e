"""Engines, sessions and the SQLite driver: how the tables reach SQLite or PostgreSQL."""

from models.storage.database import Database

__all__ = ["Database"]
