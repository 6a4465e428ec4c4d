"""Column types and helpers shared by the models."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Text
from sqlalchemy.dialects import mysql

# Message bodies can exceed MySQL's 64 KB TEXT; MEDIUMTEXT holds 16 MB.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def utcnow() -> datetime:
    """Naive UTC 'now': every timestamp in the database is UTC without tzinfo."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
