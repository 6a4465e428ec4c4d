"""The per-process caches (hesk_py/shared_cache.py): whatever changes a cached table, through whichever
process, shows on the pages; nothing of one customer is ever cached."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import select, text, update

from hesk_py import settings, shared_cache
from hesk_py.extensions import db
from hesk_py.models import KbArticle, Setting
from hesk_py.services import bans, service_messages
from hesk_py.services import knowledgebase as kb

ROOT = Path(__file__).resolve().parents[2]


def _home(client) -> str:
    resp = client.get("/")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_a_setting_saved_in_this_process_shows_on_the_next_page(app, client):
    assert "Help Desk" in _home(client)  # cached now
    with app.app_context():
        settings.save({"hesk_title": "Acme Support"})
    assert "Acme Support" in _home(client)


def test_hesk_py_settings_set_shows_at_once(app, client, runner):
    _home(client)
    result = runner.invoke(args=["settings", "set", "hesk_title", "Set From The Command Line"])
    assert result.exit_code == 0, result.output
    assert "Set From The Command Line" in _home(client)


def test_a_change_by_another_process_on_this_machine_shows_at_once(app, client, other_app):
    # the other process's caches are warm too; the shared stamp tells each about the other's commits
    other = other_app(HESK_CACHE_CHECK_SECONDS=3600)
    other_client = other.test_client()
    assert "Help Desk" in _home(client) and "Help Desk" in _home(other_client)
    with other.app_context():
        settings.save({"hesk_title": "Changed Elsewhere"})
    assert "Changed Elsewhere" in _home(client)
    with app.app_context():
        settings.save({"hesk_title": "And Back Here"})
    assert "And Back Here" in _home(other_client)


def test_another_app_server_sees_a_change_within_the_check_interval(app, other_app):
    # another machine: no shared stamp, only the generation token in the database
    one = other_app(HESK_CACHE_SHARED_STAMP=False, HESK_CACHE_CHECK_SECONDS=1)
    two = other_app(HESK_CACHE_SHARED_STAMP=False, HESK_CACHE_CHECK_SECONDS=3600)
    assert "Help Desk" in _home(one.test_client())
    with two.app_context():
        _home(two.test_client())
        settings.save({"hesk_title": "Other Machine"})
    deadline = time.monotonic() + 5
    while "Other Machine" not in _home(one.test_client()):
        assert time.monotonic() < deadline, "the change never showed"
        time.sleep(0.1)
    # checking the token on every request: at once
    every = other_app(HESK_CACHE_SHARED_STAMP=False, HESK_CACHE_CHECK_SECONDS=0)
    every_client = every.test_client()
    assert "Other Machine" in _home(every_client)
    with two.app_context():
        settings.save({"hesk_title": "Seen At Once"})
    assert "Seen At Once" in _home(every_client)


def test_a_row_edited_by_hand_shows_after_max_age(app, client, other_app):
    quick = other_app(HESK_CACHE_MAX_AGE=1, HESK_CACHE_CHECK_SECONDS=3600)
    quick_client = quick.test_client()
    assert "Help Desk" in _home(quick_client)
    with app.app_context():  # straight into the table, as an administrator with a SQL client would
        db.session.execute(text("INSERT INTO hesk_settings (`key`, value) VALUES ('hesk_title', '\"By Hand\"')"
                                if db.engine.dialect.name == "mysql" else
                                "INSERT INTO hesk_settings (key, value) VALUES ('hesk_title', '\"By Hand\"')"))
        db.session.commit()  # a text() statement: no generation token, no stamp
    time.sleep(1.1)
    assert "By Hand" in _home(quick_client)


def test_hesk_py_settings_set_in_another_process_reaches_a_running_server(app, live_server, tmp_path,
                                                                            database_url):
    config = tmp_path / "config.ini"
    config.write_text(f"[database]\nurl = {database_url}\n[security]\nsecret_key = test-secret-key\n")

    def page():
        with urllib.request.urlopen(live_server.url + "/") as resp:
            return resp.read().decode()

    assert "Help Desk" in page()
    env = dict(os.environ, HESK_PY_CONFIG=str(config))
    done = subprocess.run([sys.executable, "-m", "hesk_py", "settings", "set", "hesk_title", "From Another Process"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "From Another Process" in page()  # the stamp: no waiting for the check interval


def test_service_messages_published_and_withdrawn(app, client, other_app):
    other_client = other_app(HESK_CACHE_CHECK_SECONDS=3600).test_client()
    _home(client), _home(other_client)
    with app.app_context():
        row = service_messages.create_message(title="Planned outage", message="Sunday 02:00-04:00", style="notice",
                                              format="plain", published=True)
        message_id = row.id
    assert "Planned outage" in _home(client) and "Planned outage" in _home(other_client)
    with app.app_context():
        service_messages.update_message(message_id, title="Planned outage", message="Sunday 02:00-04:00",
                                        style="notice", format="plain", published=False)
    assert "Planned outage" not in _home(client) and "Planned outage" not in _home(other_client)


def test_an_article_made_private_leaves_the_home_page_at_once(app, client, other_app):
    other_client = other_app(HESK_CACHE_CHECK_SECONDS=3600).test_client()
    with app.app_context():
        settings.save({"kb_index_popart": 5, "kb_index_latest": 5})
        article = kb.create_article(title="Resetting the router", content="Hold the button for ten seconds.")
        article_id = article.id
    assert "Resetting the router" in _home(client) and "Resetting the router" in _home(other_client)
    for kind in ("private", "draft"):
        with app.app_context():
            kb.update_article(article_id, title="Resetting the router", content="Hold the button for ten seconds.",
                              type=kind, category_id=1)
        assert "Resetting the router" not in _home(client), kind
        assert "Resetting the router" not in _home(other_client), kind
        assert client.get(f"/knowledgebase/article/{article_id}").status_code == 404
        with app.app_context():
            kb.update_article(article_id, title="Resetting the router", content="Hold the button for ten seconds.",
                              type="published", category_id=1)
        assert "Resetting the router" in _home(other_client)


def test_views_of_an_article_do_not_drop_the_caches(app, client):
    with app.app_context():
        settings.save({"kb_index_popart": 5})
        article_id = kb.create_article(title="Printer jams", content="Open the tray.").id
    _home(client)
    with app.app_context():
        token = shared_cache.read_token()
        kb.count_view(article_id, "Mozilla/5.0")  # one UPDATE of the counter
        assert shared_cache.read_token() == token
        assert db.session.get(KbArticle, article_id).views == 1


def test_a_category_added_or_made_private_shows_on_the_form(app, client, admin, login, csrf):
    from hesk_py.models import Category

    assert "Billing questions" not in client.get("/submit_ticket").get_data(as_text=True)
    with app.app_context():
        db.session.add(Category(name="Billing questions", sort_order=50, is_public=True))
        db.session.commit()
        category_id = db.session.scalar(select(Category.id).where(Category.name == "Billing questions"))
    page = client.get("/submit_ticket").get_data(as_text=True)
    assert "Billing questions" in page
    with app.app_context():
        db.session.execute(update(Category).where(Category.id == category_id).values(is_public=False))
        db.session.commit()
    page = client.get("/submit_ticket").get_data(as_text=True)
    assert "Billing questions" not in page
    page = client.get(f"/submit_ticket?category={category_id}").get_data(as_text=True)
    assert "Billing questions" not in page  # the form files into a public category instead


def test_a_ban_counts_at_once_in_every_process(app, client, other_app, make_ticket):
    trackid = make_ticket(email="casey@example.com")
    other_client = other_app(HESK_CACHE_CHECK_SECONDS=3600).test_client()
    url = f"/ticket?track={trackid}&e=casey@example.com"
    assert client.get(url).status_code == 200 and other_client.get(url).status_code == 200
    with app.app_context():
        bans.ban_ip("127.0.0.1")
    assert client.get(url).status_code == 403
    assert other_client.get(url).status_code == 403
    with app.app_context():
        bans.unban_ip(db.session.scalar(select(bans.BannedIP.id)))
    assert other_client.get(url).status_code == 200


def test_a_transaction_reads_its_own_changes(app_ctx):
    bans.is_email_muted("someone@example.com")  # cached: nobody muted
    bans.mute_email("someone@example.com")
    assert bans.is_email_muted("someone@example.com")
    # within one transaction, before its commit
    db.session.add(Setting(key="hesk_title", value="Uncommitted"))
    db.session.flush()
    assert settings.get("hesk_title") == "Uncommitted"
    db.session.rollback()
    assert settings.get("hesk_title") == "Help Desk"


def test_nothing_is_cached_with_the_cache_off(app, other_app):
    off = other_app(HESK_CACHE_ENABLED=False)
    client = off.test_client()
    client.get("/")
    with off.app_context():
        from sqlalchemy import event

        seen = []
        engine = db.engine
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            client.get("/")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert any("hesk_settings" in s for s in seen)  # read per request, as before


def test_a_staff_name_changed_shows_on_the_ticket_page_at_once(app, client, make_ticket, admin):
    from hesk_py.models import User
    from hesk_py.models.types import utcnow
    from hesk_py.services import tickets

    trackid = make_ticket(email="casey@example.com")
    with app.app_context():
        staff = db.session.get(User, admin)
        tickets.add_reply(tickets.get_ticket(trackid), message="We are on it.", actor=tickets.Actor.staff(staff))
    url = f"/ticket?track={trackid}&e=casey@example.com"
    assert "Ada Admin" in client.get(url).get_data(as_text=True)
    with app.app_context():
        token = shared_cache.read_token()
        db.session.get(User, admin).last_seen_at = utcnow()  # a staff request: not a cached column
        db.session.commit()
        assert shared_cache.read_token() == token
        db.session.get(User, admin).name = "Ada Lovelace"
        db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Ada Lovelace" in page and "Ada Admin" not in page


def test_a_database_without_the_marker_table_keeps_nothing(app, client, other_app):
    # the code is newer than the schema (before "hesk-py upgrade" ran migration 0020): pages work, nothing is kept
    from hesk_py.models.settings import CacheGeneration

    with app.app_context():
        CacheGeneration.__table__.drop(db.engine)
    try:
        other_client = other_app(HESK_CACHE_SHARED_STAMP=False, HESK_CACHE_CHECK_SECONDS=3600).test_client()
        assert "Help Desk" in _home(other_client)
        with app.app_context():
            settings.save({"hesk_title": "Saved Before The Upgrade"})
        assert "Saved Before The Upgrade" in _home(other_client)
    finally:
        with app.app_context():
            db.session.rollback()
            CacheGeneration.__table__.create(db.engine)
