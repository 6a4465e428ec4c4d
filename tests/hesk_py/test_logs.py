"""Logs never contain passwords or secrets."""
import logging

from hesk_py.logs import redact
from tests.conftest import make_test_app


def test_redact_patterns():
    assert "hunter2" not in redact("login password=hunter2 user=bob")
    assert "s3cr3t" not in redact("connecting to mysql+pymysql://root:s3cr3t@db:3306/hesk")
    assert "abc123" not in redact('{"smtp_password": "abc123"}')
    assert "user=bob" in redact("login password=hunter2 user=bob")


def test_log_file_never_holds_a_password(database_url, _schema, tmp_path):
    log_file = tmp_path / "hesk.log"
    make_test_app(database_url, tmp_path, HESK_LOG_FILE=str(log_file), HESK_LOG_LEVEL="INFO")
    logger = logging.getLogger("hesk_py.test")
    logger.warning("smtp login failed with password=topsecret for %s", "mail.example.com")
    try:
        raise ValueError("db url mysql+pymysql://root:pw123456@h/db")
    except ValueError:
        logger.exception("boom")
    text = log_file.read_text()
    assert "mail.example.com" in text
    assert "topsecret" not in text
    assert "pw123456" not in text
