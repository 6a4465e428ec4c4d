"""The one-time login of the first administrator, offered by the installer's Finish page.

The installer runs in the not-yet-installed app, while the Finish page's "Log in" button is handled by
the installed app (``hesk_py.wsgi`` rebuilds the app once the config file exists). So the grant cannot
live in memory: it is a small file beside the bootstrap config (mode 0600) holding the administrator's
id, an expiry time and the SHA-256 of a random token; the browser holds the token in its session.
Using it renames the file away first (only one request can win that race), so it works once.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

# The Finish page may stay open while the admin reads the next steps; after that, use the login form.
LIFETIME_SECONDS = 3600
FILE_NAME = ".first-login.json"


def grant_path(config_file: str | Path) -> Path:
    return Path(config_file).parent / FILE_NAME


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def grant(config_file: str | Path, user_id: int, token: str) -> Path:
    """Allow one login as ``user_id`` with ``token`` during the next hour."""
    path = grant_path(config_file)
    data = json.dumps({"user_id": int(user_id), "digest": _digest(token),
                       "expires": int(time.time()) + LIFETIME_SECONDS})
    tmp = path.with_name(f"{FILE_NAME}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return path


def revoke(config_file: str | Path) -> None:
    try:
        grant_path(config_file).unlink()
    except FileNotFoundError:
        pass


def consume(config_file: str | Path, token: str | None) -> int | None:
    """The administrator's id when ``token`` matches an unused, unexpired grant; the grant is gone after."""
    if not token or not isinstance(token, str):
        return None
    path = grant_path(config_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        digest, user_id, expires = str(data["digest"]), int(data["user_id"]), int(data["expires"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not hmac.compare_digest(digest, _digest(token)):
        return None
    claimed = path.with_name(f"{FILE_NAME}.{secrets.token_hex(6)}.used")
    try:
        os.rename(path, claimed)  # atomic: a replayed or concurrent request finds nothing to rename
    except FileNotFoundError:
        return None
    claimed.unlink(missing_ok=True)
    if expires < time.time():
        return None
    return user_id


__all__ = ["LIFETIME_SECONDS", "consume", "grant", "grant_path", "new_token", "revoke"]
