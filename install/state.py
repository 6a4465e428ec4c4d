"""What the installer keeps between its pages, and where.

* Answers that are not secret (language, database host/name/user, help desk title, the administrator's
  name and username...) live in the signed session cookie under ``session["install"]``, so "Back" and
  the step links show what was typed.
* Secrets never go into the cookie: a signed cookie can be read by anyone who holds it. The database
  password and the administrator's password *hash* (the password itself is never stored) are kept on the
  server in ``<config folder>/.hesk-installer/<id>.json`` (folder 0700, files 0600), under a random id
  held in the session. The database password ends up in config.ini (also 0600) anyway.
* The installer's signing key lives in the same folder. Every process of a multi-process server
  (``hesk-py serve --processes N``, Passenger) reads the same key, so the wizard's session survives
  whichever process answers. It also becomes the installed help desk's secret key, so the CSRF token and
  the one-time login of the Finish page stay valid when ``hesk_py.wsgi`` rebuilds the app after install.
* A lock file there stops two installations from running at once.

The folder lives beside the config file because the server check already requires that folder to be
writable, and it is deleted when an installation succeeds.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from hesk_py import config as bootstrap

FOLDER = ".hesk-installer"
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{20,80}$")
# Forgotten wizard sessions are removed after a day.
STALE_SECONDS = 24 * 3600
# A lock older than this is left over from a crashed process.
LOCK_STALE_SECONDS = 15 * 60


class InstallBusy(Exception):
    """Another installation is running right now."""


def state_dir(config_file: str | Path) -> Path:
    return Path(config_file).parent / FOLDER


def _ensure_dir(config_file: str | Path) -> Path:
    folder = state_dir(config_file)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically into a file only the owner can read."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def signing_key(config_file: str | Path) -> str | None:
    """The installer's secret key, created on first use. None when the folder cannot be written (the
    server check then says so, and the process keeps its own random key)."""
    try:
        path = _ensure_dir(config_file) / "secret_key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text(encoding="utf-8").strip()
            if len(key) >= 32:
                return key
            # an empty file left by a crash mid-write: start again
            path.unlink(missing_ok=True)
            return signing_key(config_file)
        key = bootstrap.new_secret_key()
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key)
        return key
    except OSError:
        return None


def new_id() -> str:
    return secrets.token_urlsafe(24)


def _secrets_path(config_file: str | Path, wizard_id: str) -> Path | None:
    if not isinstance(wizard_id, str) or not _ID_RE.match(wizard_id):
        return None
    return state_dir(config_file) / f"{wizard_id}.json"


def load_secrets(config_file: str | Path, wizard_id: str | None) -> dict:
    path = _secrets_path(config_file, wizard_id or "")
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_secrets(config_file: str | Path, wizard_id: str, **values) -> None:
    """Merge ``values`` into this wizard's server-side secrets (None removes a key)."""
    path = _secrets_path(config_file, wizard_id)
    if path is None:
        raise ValueError("invalid wizard id")
    _ensure_dir(config_file)
    data = load_secrets(config_file, wizard_id)
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    _write_private(path, json.dumps(data))
    _remove_stale(path.parent)


def drop_secrets(config_file: str | Path, wizard_id: str | None) -> None:
    path = _secrets_path(config_file, wizard_id or "")
    if path is not None:
        path.unlink(missing_ok=True)


def _remove_stale(folder: Path) -> None:
    cutoff = time.time() - STALE_SECONDS
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


@contextlib.contextmanager
def install_lock(config_file: str | Path):
    """Held while an installation or upgrade runs. Raises InstallBusy when another one holds it."""
    path = _ensure_dir(config_file) / "install.lock"
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < LOCK_STALE_SECONDS:
                raise InstallBusy() from None
            path.unlink(missing_ok=True)
    else:
        raise InstallBusy()
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        path.unlink(missing_ok=True)


def forget(config_file: str | Path) -> None:
    """Remove every trace of the wizard (after a successful installation)."""
    shutil.rmtree(state_dir(config_file), ignore_errors=True)


__all__ = ["InstallBusy", "drop_secrets", "forget", "install_lock", "load_secrets", "new_id",
           "save_secrets", "signing_key", "state_dir"]
