"""Every Flask extension, unbound. ``create_app`` binds them with ``init_app``.

Importing from here (never from ``hesk_py/__init__``) avoids circular imports.
"""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations can find and alter them on MySQL/MariaDB.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class HeskTalisman(Talisman):
    """Talisman's headers, then the per-request security settings (hesk_py/web_security.py).

    A policy without a nonce gives the same header every time: it is written out once per policy (the app's,
    or a view's own) instead of on every response."""

    _policy_text: dict = {}

    def _parse_policy(self, policy):
        from flask import request

        if getattr(request, "csp_nonce", None):
            return super()._parse_policy(policy)
        key = id(policy)
        found = self._policy_text.get(key)
        if found is None or found[0] is not policy:
            found = (policy, super()._parse_policy(policy))
            self._policy_text[key] = found
        return found[1]

    def _set_response_headers(self, response):
        response = super()._set_response_headers(response)
        from hesk_py import web_security

        return web_security.adjust_headers(response)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
talisman = HeskTalisman()
# Counters live in the database (hesk_py/services/ratelimit.py registers the heskdb:// storage), so every
# process and machine counts together. No default limits: only the routes that say so are limited.
# A storage failure lets the request through (the view then meets the database error itself).
limiter = Limiter(key_func=get_remote_address, storage_uri="heskdb://", strategy="fixed-window",
                  swallow_errors=True)
