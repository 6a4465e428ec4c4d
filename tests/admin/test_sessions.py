"""Staff sessions over time: the idle time-out (bootstrap ``session_idle_minutes``, 24 by default like PHP's
session lifetime HESK relies on), the reply typed meanwhile kept as a draft, "Extend staff sessions"
(``extend_admin``: the open page's ping), and the users-online list (``online``, ``online_min``) with its
cheap bookkeeping (at most one write per user per minute)."""
from __future__ import annotations

import contextlib
import re
import time
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event, select, update

from admin.security import SEEN_AT
from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Reply, User
from hesk_py.models.types import utcnow
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD, QueryCounter, csrf_token_from

IDLE = 24 * 60


def _idle_for(client, seconds: int) -> None:
    """As if this browser's last request was ``seconds`` ago."""
    with client.session_transaction() as sess:
        sess[SEEN_AT] = int(time.time()) - seconds


def _seen(client) -> int | None:
    with client.session_transaction() as sess:
        return sess.get(SEEN_AT)


def _save(app, **values):
    with app.test_request_context():
        settings.save(values)


def _words(resp) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))).split())


# --- the idle time-out -------------------------------------------------------------------------------

def test_after_the_idle_time_the_next_page_is_the_login_page(client, admin, login):
    login("admin")
    assert client.get("/admin/").status_code == 200
    _idle_for(client, IDLE - 60)
    assert client.get("/admin/").status_code == 200  # 23 minutes: still in, and the clock starts again
    assert time.time() - _seen(client) < 5
    _idle_for(client, IDLE + 5)
    resp = client.get("/admin/settings/general?x=1")
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["Location"]).query)["next"] == ["/admin/settings/general?x=1"]
    page = _words(client.get(resp.headers["Location"]))
    assert "Your session ended after 24 minutes without activity. Log in again." in page
    assert client.get("/admin/").status_code == 302  # logged out for good, not just this once


def test_the_idle_time_comes_from_the_bootstrap_config(app, client, admin, login):
    login("admin")
    app.config["HESK_SESSION_IDLE_MINUTES"] = 5
    _idle_for(client, 6 * 60)
    assert client.get("/admin/").status_code == 302
    login("admin")
    app.config["HESK_SESSION_IDLE_MINUTES"] = 0  # only when the browser closes
    _idle_for(client, 30 * 24 * 3600)
    assert client.get("/admin/").status_code == 200


def test_a_reply_sent_after_the_time_out_is_kept_as_a_draft(client, admin, login, make_ticket, csrf):
    trackid = make_ticket()
    login("admin")
    token = csrf(client, f"/admin/tickets/{trackid}")
    _idle_for(client, IDLE + 60)
    typed = "Here is a long answer\nthat took half an hour to write."
    resp = client.post(f"/admin/tickets/{trackid}/reply", data={
        "csrf_token": token, "message": typed, "status": "2", "priority": "0", "submit": "y",
        "last_reply_id": "0"})
    assert resp.status_code == 302
    login_url = resp.headers["Location"]
    assert parse_qs(urlsplit(login_url).query)["next"] == [f"/admin/tickets/{trackid}"]
    page = _words(client.get(login_url))
    assert "Log in again" in page and "Your reply was kept as a draft" in page
    with client.application.app_context():
        assert db.session.scalar(select(Reply.id)) is None  # nothing was sent in the user's name
    # logging in again leads back to the ticket, the reply in its form
    resp = client.post(login_url, data={"username": "admin", "password": ADMIN_PASSWORD,
                                        "csrf_token": csrf_token_from(client.get(login_url).get_data(as_text=True))})
    assert resp.headers["Location"] == f"/admin/tickets/{trackid}"
    html = unescape(client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)).replace("\r\n", "\n")
    box = re.search(r'<textarea[^>]*name="message"[^>]*>(.*?)</textarea>', html, re.S)
    assert box and box.group(1).strip("\n") == typed


def test_with_remember_me_the_user_is_logged_in_again_and_the_reply_waits_as_a_draft(client, admin, make_ticket,
                                                                                     csrf):
    trackid = make_ticket()
    token = csrf(client, "/admin/login")
    client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token,
                                      "remember": "y"})
    _idle_for(client, IDLE + 60)
    assert client.get("/admin/").status_code == 200  # HESK's automatic login: carry on
    token = csrf(client, f"/admin/tickets/{trackid}")
    _idle_for(client, IDLE + 60)
    resp = client.post(f"/admin/tickets/{trackid}/reply", data={
        "csrf_token": token, "message": "Typed before lunch", "status": "2", "priority": "0", "submit": "y"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/admin/tickets/{trackid}#reply"
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert re.search(r'name="message"[^>]*>\s*Typed before lunch</textarea>', page) and "kept as a draft" in page


def test_the_ticket_pages_polling_is_not_activity(client, admin, login, make_ticket):
    trackid = make_ticket()
    login("admin")
    _idle_for(client, 10 * 60)
    before = _seen(client)
    assert client.get(f"/admin/tickets/{trackid}/viewers").status_code == 200
    assert _seen(client) == before
    _idle_for(client, IDLE + 5)
    assert client.get(f"/admin/tickets/{trackid}/viewers").status_code == 302  # and it does not revive a session


# --- extend_admin: the open page's ping --------------------------------------------------------------

def test_extend_admin_pings_from_open_pages_to_keep_the_session(app, client, admin, login):
    login("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert "admin-keepalive.js" not in page
    _idle_for(client, 10 * 60)
    assert client.get("/admin/keepalive").status_code == 404  # off: the ping is not there, nor counted
    assert time.time() - _seen(client) > 9 * 60

    _save(app, extend_admin=True)
    page = client.get("/admin/").get_data(as_text=True)
    script = re.search(r'<script src="/static/js/admin-keepalive.js" defer data-url="/admin/keepalive" '
                       r'data-seconds="(\d+)"></script>', page)
    assert script and int(script.group(1)) == 300  # HESK's five minutes, well inside the 24
    for _ping in range(6):  # half an hour of pings with nothing else: still logged in
        _idle_for(client, 5 * 60)
        resp = client.get("/admin/keepalive")
        assert resp.status_code == 204 and resp.headers["Cache-Control"] == "no-store"
        assert time.time() - _seen(client) < 5
    assert client.get("/admin/").status_code == 200
    # a closed laptop: the ping comes too late, and is sent to log in like any page
    _idle_for(client, IDLE + 60)
    resp = client.get("/admin/keepalive")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert "next=" not in resp.headers["Location"]


def test_the_ping_interval_follows_a_short_idle_time(app, client, admin, login):
    app.config["HESK_SESSION_IDLE_MINUTES"] = 3
    _save(app, extend_admin=True)
    login("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-seconds="60"' in page


def test_the_login_page_has_no_ping(app, client):
    _save(app, extend_admin=True)
    assert "admin-keepalive.js" not in client.get("/admin/login").get_data(as_text=True)


@contextlib.contextmanager
def _counting(app):
    """The SQL statements the requests inside run (a listener on the engine; each request keeps its own
    application context)."""
    with app.app_context():
        engine = db.engine
    counter = QueryCounter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


# --- users online ------------------------------------------------------------------------------------

def _browser(app, csrf, username):
    """Another browser, logged in as ``username``, that has opened the staff home page."""
    other = app.test_client()
    token = csrf(other, "/admin/login")
    password = ADMIN_PASSWORD if username == "admin" else STAFF_PASSWORD
    assert other.post("/admin/login", data={"username": username, "password": password,
                                            "csrf_token": token}).status_code == 302
    assert other.get("/admin/").status_code == 200
    return other


def _online_names(client) -> list[str] | None:
    html = client.get("/admin/").get_data(as_text=True)
    block = re.search(r'<p class="users-online" id="users-online">(.*?)</p>', html, re.S)
    if block is None:
        return None
    return [unescape(n) for n in re.findall(r'<span class="online-user">([^<]*)</span>', block.group(1))]


def _last_seen(app, username):
    with app.app_context():
        return db.session.scalar(select(User.last_seen_at).where(User.username == username))


def _set_last_seen(app, username, minutes_ago):
    with app.app_context():
        db.session.execute(update(User).where(User.username == username)
                           .values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago)))
        db.session.commit()


def test_users_online_is_off_by_default_and_writes_nothing(app, client, admin, login):
    login("admin")
    assert _online_names(client) is None
    assert _last_seen(app, "admin") is None


def test_users_online_lists_staff_active_in_the_last_online_min_minutes(app, client, admin, make_user, login,
                                                                        csrf):
    _save(app, online=True)
    make_user("bob", name="Bob Builder")
    make_user("carol", name="Carol Quiet")
    _browser(app, csrf, "bob")  # Bob is active now
    _set_last_seen(app, "carol", 11)  # Carol was 11 minutes ago
    login("admin")
    assert _online_names(client) == ["Ada Admin", "Bob Builder"]
    _save(app, online_min=15)
    assert _online_names(client) == ["Ada Admin", "Bob Builder", "Carol Quiet"]
    _set_last_seen(app, "bob", 16)
    assert _online_names(client) == ["Ada Admin", "Carol Quiet"]


def test_logging_out_leaves_the_list_at_once(app, client, admin, make_user, login, csrf):
    _save(app, online=True)
    make_user("bob", name="Bob Builder")
    bob = _browser(app, csrf, "bob")
    assert _last_seen(app, "bob") is not None
    bob.post("/admin/logout", data={"csrf_token": csrf(bob, "/admin/")})
    assert _last_seen(app, "bob") is None
    login("admin")
    assert _online_names(client) == ["Ada Admin"]


def test_only_staff_who_may_view_online_staff_see_the_list(app, client, make_user, csrf):
    _save(app, online=True)
    make_user("viewer", features=["can_view_tickets", "can_view_online"])
    make_user("other", features=["can_view_tickets"])
    assert _online_names(_browser(app, csrf, "other")) is None
    assert _online_names(_browser(app, csrf, "viewer")) == ["Other", "Viewer"]


def test_the_activity_time_is_written_at_most_once_a_minute(app, client, admin, login, make_ticket):
    _save(app, online=True)
    trackid = make_ticket()
    login("admin")
    client.get("/admin/")
    first = _last_seen(app, "admin")
    assert first is not None and utcnow() - first < timedelta(seconds=30)

    def user_writes(url):
        with _counting(app) as q:
            assert client.get(url).status_code == 200
        return [s for s in q.statements if s.lstrip().upper().startswith("UPDATE HESK_USERS")]

    # the same minute: pages read the stored time with the user row and write nothing
    assert user_writes("/admin/") == []
    assert user_writes(f"/admin/tickets/{trackid}") == []
    assert _last_seen(app, "admin") == first
    # a minute later: one write
    _set_last_seen(app, "admin", 2)
    assert len(user_writes("/admin/")) == 1
    assert utcnow() - _last_seen(app, "admin") < timedelta(seconds=30)
    assert user_writes("/admin/") == []


def test_with_the_list_off_no_page_writes_the_time(app, client, admin, login):
    login("admin")
    with _counting(app) as q:
        client.get("/admin/")
        client.get("/admin/")
    assert not [s for s in q.statements if "hesk_users" in s and s.lstrip().upper().startswith("UPDATE")]
