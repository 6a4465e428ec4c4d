"""The help desk settings table: only overrides of the defaults declared in hesk_py/settings.py."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db


class Setting(db.Model):
    __tablename__ = "hesk_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class CacheGeneration(db.Model):
    """The change marker of the per-process caches (hesk_py/shared_cache.py): a new random token is written in
    the transaction of every change to a cached table. One row, ``name = "shared"``."""

    __tablename__ = "hesk_cache_generation"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
