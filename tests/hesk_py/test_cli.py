"""The hesk-py command line."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import OutboxMessage, Setting, User

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_on_a_fresh_machine_sends_visitors_to_the_installer(tmp_path):
    """README command 1: `hesk-py serve` with no config serves the installer."""
    port = _free_port()
    env = dict(os.environ, HESK_PY_CONFIG=str(tmp_path / "config.ini"))
    proc = subprocess.Popen([sys.executable, "-m", "hesk_py", "serve", "--port", str(port), "--processes", "1"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                opener = urllib.request.build_opener(_NoRedirect)
                resp = opener.open(f"http://127.0.0.1:{port}/")
                status, location = resp.status, resp.headers.get("Location")
                break
            except urllib.error.HTTPError as exc:
                status, location = exc.code, exc.headers.get("Location")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert status == 302
        assert location.endswith("/install/")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/install/") as page:
            assert page.status == 200
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert f"http://127.0.0.1:{port}/install/" in out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_settings_verbs(runner, app):
    result = runner.invoke(args=["settings", "get", "hesk_title"])
    assert result.exit_code == 0 and result.output.strip() == "Help Desk"
    result = runner.invoke(args=["settings", "set", "max_listings", "abc"])
    assert result.exit_code != 0
    assert "max_listings" in result.output and "whole number" in result.output
    result = runner.invoke(args=["settings", "set", "max_listings", "50"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["settings", "get", "nosuchkey"])
    assert result.exit_code != 0 and "unknown setting" in result.output
    result = runner.invoke(args=["settings", "set", "smtp_password", "hunter2hunter2"])
    assert result.exit_code == 0
    listing = runner.invoke(args=["settings", "list"]).output
    assert "max_listings=50" in listing
    assert "hunter2hunter2" not in listing
    with app.app_context():
        keys = set(db.session.scalars(select(Setting.key)))
    assert keys == {"max_listings", "smtp_password"}  # only overrides are stored


def test_create_admin(runner, app):
    result = runner.invoke(args=["create-admin", "--username", "boss", "--email", "boss@example.com",
                                 "--name", "The Boss"], input="Sup3r-secret-pw\nSup3r-secret-pw\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "boss"))
        assert user.is_admin and user.password_hash.startswith("scrypt:")
    weak = runner.invoke(args=["create-admin", "--username", "weak", "--email", "w@example.com",
                               "--name", "Weak"], input="123\n123\n")
    assert weak.exit_code != 0 and "password" in weak.output


def test_cron_sends_the_outbox(runner, app, make_ticket, smtp_server):
    make_ticket(autoassign=False)
    result = runner.invoke(args=["cron"])
    assert result.exit_code == 0, result.output
    assert "outbox: 1 sent" in result.output
    assert len(smtp_server.wait_for(1)) == 1
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.status)) == "sent"
    bad = runner.invoke(args=["cron", "--job", "nope"])
    assert bad.exit_code != 0 and "Unknown job" in bad.output


def test_upgrade_says_up_to_date(runner):
    result = runner.invoke(args=["upgrade"])
    assert result.exit_code == 0
    assert "up to date" in result.output
