"""A database outage while a customer submits: a 503 page that keeps what they typed, never a trace.

The outage is real: on SQLite the database file disappears (a directory takes its place, so it cannot
be opened); on MariaDB the app talks to the server through a TCP relay that is cut.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Ticket
from tests.conftest import make_test_app
from tests.public.conftest import ANSWER, hidden_fields, text_of


class Relay:
    """A TCP relay to the database server that can be cut like a pulled cable."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.cut_off:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.cut_off = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.fixture
def outage(app, database_url, tmp_path):
    """(an app whose database can be cut, cut(), count_tickets())."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = tmp_path / "outage.db"
        outage_app = make_test_app(f"sqlite:///{path}", tmp_path)
        with outage_app.app_context():
            from hesk_py.services import schema
            from hesk_py.services.defaults import seed_defaults

            schema.upgrade()
            seed_defaults()

        def cut():
            with outage_app.app_context():
                db.engine.dispose()
            os.replace(path, tmp_path / "outage.db.away")
            path.mkdir()  # the file is gone and nothing can create it

        def count():
            if path.is_dir():
                shutil.rmtree(path)
                os.replace(tmp_path / "outage.db.away", path)
            with outage_app.app_context():
                db.engine.dispose()
                return db.session.scalar(select(func.count()).select_from(Ticket))
    else:
        relay = Relay(url.host or "127.0.0.1", url.port or 3306)
        outage_app = make_test_app(url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False),
                                   tmp_path / "relay")
        cut = relay.cut

        def count():
            with app.app_context():
                return db.session.scalar(select(func.count()).select_from(Ticket))

    with outage_app.app_context():
        settings.save({"spam_min_fill_seconds": 0, "secimg_use": 0, "question_use": True})
    yield outage_app, cut, count
    with outage_app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_form_survives_a_database_outage(outage):
    outage_app, cut, count = outage
    client = outage_app.test_client()
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    data = {**hidden_fields(html), "name": "Casey Customer", "email": "casey@example.com",
            "subject": "Invoice <wrong>", "message": "Dear support,\nmy invoice is wrong.\n\nThanks", "question": ANSWER}
    cut()
    resp = client.post("/submit_ticket", data=data)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503
    assert "Traceback" not in page and "OperationalError" not in page
    assert "nothing you typed is lost" in text_of(page)
    assert "Dear support,\nmy invoice is wrong.\n\nThanks</textarea>" in page
    assert 'value="Invoice &lt;wrong&gt;"' in page and 'value="casey@example.com"' in page
    kept = hidden_fields(page)
    assert kept["hesk_form"] == data["hesk_form"] and kept["question"] == ANSWER and kept["category"] == "1"
    assert kept["csrf_token"]
    assert count() == 0  # nothing half-stored


def test_a_reply_survives_a_database_outage(outage, app, database_url):
    from hesk_py.models import Reply
    from hesk_py.services import tickets

    outage_app, cut, count = outage
    with outage_app.app_context():
        trackid = tickets.create_ticket(name="Casey Customer", email="casey@example.com", subject="Blank pages",
                                        message="It prints blank pages.", category_id=1,
                                        actor=tickets.Actor.customer("Casey Customer")).trackid
    client = outage_app.test_client()
    html = client.get(f"/ticket?track={trackid}&e=casey@example.com").get_data(as_text=True)
    data = {**hidden_fields(html), "message": "Still blank <b>pages</b>,\nafter new toner.\n\nCasey"}
    assert data["track"] == trackid and data["csrf_token"]
    cut()
    resp = client.post("/ticket/reply", data=data)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503
    assert "Traceback" not in page and "OperationalError" not in page
    assert "it is not lost" in text_of(page)
    assert "Still blank &lt;b&gt;pages&lt;/b&gt;,\nafter new toner.\n\nCasey</textarea>" in page
    kept = hidden_fields(page)
    assert kept["track"] == trackid and kept["hesk_form"] == data["hesk_form"] and kept["csrf_token"]
    assert count() == 1  # the database is back (SQLite) or read directly (MariaDB)
    reader = outage_app if make_url(database_url).get_backend_name() == "sqlite" else app
    with reader.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reply)) == 0  # nothing half-stored
