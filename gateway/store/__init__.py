"""Storage: tables, engine and migrations. Only the core imports this; plugins never do."""

from gateway.store.db import Database, open_database
from gateway.store.tables import metadata

__all__ = ["Database", "metadata", "open_database"]
