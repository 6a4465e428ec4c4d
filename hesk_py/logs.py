"""Logging: to standard error or a file, with a filter that keeps passwords and secrets out."""
from __future__ import annotations

import logging
import re
from typing import Iterable

# key=value, "key": "value" and URL credentials (scheme://user:password@host)
_SECRET_PATTERNS = [
    re.compile(r"(?i)((?:password|passwd|pass|secret|secret_key|token|csrf_token|smtp_password|api_key)"
               r"[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;]+)"),
    re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/\s@]+:)([^@\s]+)(@)"),
]


def redact(text: str, known: Iterable[str] = ()) -> str:
    """``text`` without secrets: ``password=...``-style values, URL credentials, and every value in
    ``known`` (the configured passwords and keys, wherever they appear)."""
    for value in sorted({str(v) for v in known if v and len(str(v)) >= 4}, key=len, reverse=True):
        text = text.replace(value, "***")
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 3:
            text = pattern.sub(r"\1***\3", text)
        else:
            text = pattern.sub(r"\1***", text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def init_app(app) -> None:
    level = getattr(logging, str(app.config.get("HESK_LOG_LEVEL", "INFO")).upper(), logging.INFO)
    path = app.config.get("HESK_LOG_FILE")
    handler: logging.Handler = logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    for name in ("hesk_py", "admin", "install"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for old in [h for h in logger.handlers if isinstance(h.formatter, RedactingFormatter)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.propagate = False
    app.logger.handlers.clear()
    app.logger.addHandler(handler)
    app.logger.setLevel(level)
    app.logger.propagate = False
