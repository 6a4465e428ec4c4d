"""Bootstrap configuration: what the app needs before it can reach its database.

The file is ``instance/config.ini`` under the project folder, or the one named by ``HESK_PY_CONFIG``.
Only the installer writes it (atomically, mode 0600); ``create_app`` reads it once.
Help desk settings edited in the admin panel live in the database (see ``hesk_py/settings.py``).
"""
from __future__ import annotations

import configparser
import os
import secrets
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Keys of the ini file -> Flask config keys, with their types. Documented in config.example.ini.
_OPTIONS = {
    ("database", "url"): ("SQLALCHEMY_DATABASE_URI", str),
    ("database", "pool_size"): ("HESK_DB_POOL_SIZE", int),
    ("database", "pool_recycle"): ("HESK_DB_POOL_RECYCLE", int),
    ("security", "secret_key"): ("SECRET_KEY", str),
    ("security", "secure_cookies"): ("HESK_SECURE_COOKIES", bool),
    ("security", "session_idle_minutes"): ("HESK_SESSION_IDLE_MINUTES", int),
    ("server", "host"): ("HESK_SERVER_HOST", str),
    ("server", "port"): ("HESK_SERVER_PORT", int),
    ("server", "threads"): ("HESK_SERVER_THREADS", int),
    ("server", "processes"): ("HESK_SERVER_PROCESSES", int),
    ("server", "url_prefix"): ("HESK_URL_PREFIX", str),
    ("server", "trusted_proxies"): ("HESK_TRUSTED_PROXIES", int),
    ("paths", "attachments"): ("HESK_ATTACHMENTS_DIR", str),
    ("logging", "level"): ("HESK_LOG_LEVEL", str),
    ("logging", "file"): ("HESK_LOG_FILE", str),
    ("cache", "enabled"): ("HESK_CACHE_ENABLED", bool),
    ("cache", "check_seconds"): ("HESK_CACHE_CHECK_SECONDS", int),
    ("cache", "max_age"): ("HESK_CACHE_MAX_AGE", int),
}


class ConfigError(Exception):
    """The bootstrap config file exists but cannot be used."""


def default_instance_path() -> Path:
    return PROJECT_ROOT / "instance"


def config_path(instance_path: str | Path | None = None) -> Path:
    """Where the bootstrap config lives (``HESK_PY_CONFIG`` wins)."""
    env = os.environ.get("HESK_PY_CONFIG")
    if env:
        return Path(env).expanduser().resolve()
    return Path(instance_path or default_instance_path()) / "config.ini"


def defaults(instance_path: str | Path) -> dict:
    """Code defaults: the first layer of configuration."""
    return {
        "SECRET_KEY": None,
        "SQLALCHEMY_DATABASE_URI": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "HESK_DB_POOL_SIZE": 10,
        "HESK_DB_POOL_RECYCLE": 280,
        "HESK_SECURE_COOKIES": False,
        # Staff sessions end after this many minutes without a request (PHP's default session lifetime,
        # which HESK relies on, is 24 minutes); 0: only when the browser closes.
        "HESK_SESSION_IDLE_MINUTES": 24,
        "HESK_SERVER_HOST": "127.0.0.1",
        "HESK_SERVER_PORT": 8080,
        "HESK_SERVER_THREADS": 8,
        "HESK_SERVER_PROCESSES": 0,
        "HESK_URL_PREFIX": "",
        "HESK_TRUSTED_PROXIES": 0,
        "HESK_ATTACHMENTS_DIR": str(Path(instance_path) / "attachments"),
        "HESK_LOG_LEVEL": "INFO",
        "HESK_LOG_FILE": "",
        # Per-process caches of settings and other data every visitor sees alike (hesk_py/shared_cache.py).
        "HESK_CACHE_ENABLED": True,
        "HESK_CACHE_CHECK_SECONDS": 1,
        "HESK_CACHE_MAX_AGE": 60,
        # Send queued mail in a background thread right after a request (tests turn it off).
        "HESK_SEND_MAIL_AFTER_REQUEST": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent / "translations"),
    }


def _parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(value)


def read_file(path: Path, instance_path: str | Path) -> dict:
    """Read the ini file into Flask config keys. Raises ConfigError with a plain message."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    out: dict = {}
    for (section, option), (key, kind) in _OPTIONS.items():
        if not parser.has_option(section, option):
            continue
        raw = parser.get(section, option)
        try:
            if kind is bool:
                out[key] = _parse_bool(raw)
            elif kind is int:
                out[key] = int(raw)
            else:
                out[key] = raw.strip()
        except ValueError as exc:
            raise ConfigError(f"{path}: [{section}] {option} has an invalid value") from exc
    att = out.get("HESK_ATTACHMENTS_DIR")
    if att and not os.path.isabs(att):
        out["HESK_ATTACHMENTS_DIR"] = str(Path(instance_path) / att)
    return out


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def write_file(path: Path, values: dict[tuple[str, str], object]) -> None:
    """Write the bootstrap config atomically with mode 0600.

    ``values`` maps (section, option) to a value. Options already in the file that ``values`` does not
    name (a hand-written ``[server]`` section: ``url_prefix``, ``trusted_proxies``, ...) are kept. The file
    is written to a temporary file in the same folder, flushed, then renamed over the target, so a crash
    never leaves half a config.
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        pass  # a new file
    except (OSError, configparser.Error, UnicodeDecodeError):
        parser = configparser.ConfigParser(interpolation=None)  # unreadable: written anew
    for (section, option), value in values.items():
        if not parser.has_section(section):
            parser.add_section(section)
        if isinstance(value, bool):
            value = "true" if value else "false"
        parser.set(section, option, str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".ini", dir=str(path.parent))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("; Written by the hesk_py installer. See config.example.ini for every option.\n")
            parser.write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
