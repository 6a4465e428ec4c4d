"""Anti-spam on the public form: honeypots, fill time, CAPTCHA, question, one-time tokens, per-IP limit,
flood, bans and max open tickets."""
from __future__ import annotations

import re
import struct
import time
import zlib

import pytest
from sqlalchemy import func, select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Ticket
from hesk_py.services import antispam, bans
from tests.public.conftest import ANSWER, hidden_fields


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Ticket))


def _form(client, url="/submit_ticket?category=1", **fields):
    html = client.get(url).get_data(as_text=True)
    data = {**hidden_fields(html), "name": "Casey", "email": "casey@example.com", "subject": "Hi",
            "message": "Hello there", "question": ANSWER}
    data.update(fields)
    return data, html


@pytest.mark.parametrize("change", [{"hx": ""}, {"hy": "http://spam.example"}, {"phone": "555-1234"},
                                    {"hx": None}])
def test_honeypots_refuse_robots(app, client, quick_form, change):
    data, _html = _form(client)
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    resp = client.post("/submit_ticket", data=data)
    assert resp.status_code == 403
    assert _count(app) == 0


def test_a_form_sent_too_fast_comes_back(app, client, quick_form):
    with app.app_context():
        settings.save({"spam_min_fill_seconds": 2})
    data, _html = _form(client, message="Typed by a person")
    resp = client.post("/submit_ticket", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "faster than a person can fill it in" in html
    assert "Typed by a person</textarea>" in html
    assert _count(app) == 0
    time.sleep(2.1)
    # the same form (same token) is accepted once enough time has passed
    again = hidden_fields(html)
    assert again["hesk_form"] == data["hesk_form"]
    resp = client.post("/submit_ticket", data={**data, **again})
    assert resp.status_code == 303
    assert _count(app) == 1


@pytest.mark.parametrize("token", ["", "forged", "eyJuIjoiMDAwIn0.abc.def"])
def test_a_missing_or_forged_form_token_is_refused(app, client, quick_form, token):
    data, _html = _form(client)
    data["hesk_form"] = token
    resp = client.post("/submit_ticket", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "This form has expired" in html
    assert 'name="hesk_form" value=""' not in html  # a fresh token to send it again
    assert _count(app) == 0


def test_the_same_form_files_one_ticket_only(app, client, quick_form):
    data, _html = _form(client)
    first = client.post("/submit_ticket", data=data)
    second = client.post("/submit_ticket", data=data)  # a double click, or the back button and submit
    assert first.status_code == second.status_code == 303
    assert _count(app) == 1
    # the second answer shows the same ticket
    with app.app_context():
        trackid = db.session.scalar(select(Ticket.trackid))
    assert trackid in client.get("/submit_ticket/done").get_data(as_text=True)


def test_a_replayed_form_from_another_browser_files_nothing(app, client, quick_form):
    data, _html = _form(client)
    assert client.post("/submit_ticket", data=data).status_code == 303
    robot = app.test_client()
    html = robot.get("/submit_ticket?category=1").get_data(as_text=True)
    replay = {**data, "csrf_token": hidden_fields(html)["csrf_token"]}
    resp = robot.post("/submit_ticket", data=replay)
    assert resp.status_code == 303  # it sees the confirmation of the ticket it replayed ...
    assert _count(app) == 1  # ... but nothing new is filed


def test_the_anti_spam_question(app, client, quick_form):
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert "Type <i>PB6YM</i> here to fight SPAM:" in html  # the admin's formatting is kept
    data, _ = _form(client, question="wrong")
    resp = client.post("/submit_ticket", data=data)
    assert resp.status_code == 400
    assert "Wrong answer to the anti-spam question." in resp.get_data(as_text=True)
    data, _ = _form(client, question="  pb6ym ")  # not case sensitive
    assert client.post("/submit_ticket", data=data).status_code == 303


def test_the_question_cannot_carry_a_script(app, client, quick_form):
    with app.app_context():
        settings.save({"question_ask": 'What is 2+2? <script>alert(1)</script><b onmouseover="x()">bold</b>',
                       "question_ans": "4"})
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "onmouseover" not in html
    assert "<b>bold</b>" in html


def _png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    # every chunk's CRC is right
    pos = 8
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        chunk = data[pos + 4:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(chunk) & 0xFFFFFFFF == crc
        pos += 12 + n
    return width, height


def test_the_captcha_image_and_answer(app, client):
    with app.app_context():
        settings.save({"spam_min_fill_seconds": 0, "question_use": False, "secimg_use": 1})
    data, html = _form(client, question="")
    img = re.search(r'<img src="(/captcha\?t=[^"]+)"', html).group(1)
    resp = client.get(img.replace("&amp;", "&"))
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert _png_size(resp.data) == (190, 50)
    assert client.get("/captcha?t=forged").status_code == 404
    # no answer, then a wrong one
    resp = client.post("/submit_ticket", data={**data, "captcha": ""})
    assert "Please type the number shown in the image." in resp.get_data(as_text=True)
    with app.app_context():
        code = antispam.captcha_code(antispam.read_token(data["hesk_form"]).nonce)
    wrong = str(int(code) + 1 if code != "99999" else 10000)
    resp = client.post("/submit_ticket", data={**data, "captcha": wrong})
    assert resp.status_code == 400
    assert "The number does not match the image." in resp.get_data(as_text=True)
    assert _count(app) == 0
    # the number in the image: accepted
    resp = client.post("/submit_ticket", data={**data, "captcha": code})
    assert resp.status_code == 303
    assert _count(app) == 1
    # the solved image cannot be used again for another ticket
    resp = client.post("/submit_ticket", data={**data, "captcha": code, "subject": "Another one"})
    assert _count(app) == 1


def test_a_correct_captcha_is_not_asked_again_after_another_error(app, client):
    with app.app_context():
        settings.save({"spam_min_fill_seconds": 0, "question_use": False, "secimg_use": 1})
        data, _ = _form(client, name="")
        code = antispam.captcha_code(antispam.read_token(data["hesk_form"]).nonce)
    resp = client.post("/submit_ticket", data={**data, "captcha": code})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert f'name="captcha" required type="text" value="{code}"' in html


def test_per_address_limit_keeps_the_form(app, client, quick_form):
    with app.app_context():
        settings.save({"spam_tickets_per_hour": 2})
    for i in range(2):
        data, _ = _form(client, subject=f"Ticket {i}")
        assert client.post("/submit_ticket", data=data).status_code == 303
    data, _ = _form(client, subject="Third", message="Still typed")
    resp = client.post("/submit_ticket", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 429
    assert "Too many tickets were sent from your network" in html
    assert 'value="Third"' in html and "Still typed</textarea>" in html
    assert _count(app) == 2
    # another address is not affected
    other = app.test_client()
    data, _ = _form(other, subject="From elsewhere")
    resp = other.post("/submit_ticket", data=data, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert resp.status_code == 303
    assert _count(app) == 3


def test_flood_protection(app, client, quick_form):
    with app.app_context():
        settings.save({"flood": 30})
    data, _ = _form(client)
    assert client.post("/submit_ticket", data=data).status_code == 303
    data, _ = _form(client, subject="Right after")
    resp = client.post("/submit_ticket", data=data)
    assert resp.status_code == 429
    assert re.search(r"Please wait \d+ seconds? before submitting another ticket", resp.get_data(as_text=True))
    assert _count(app) == 1
    # once the window has passed, it works
    with app.app_context():
        from hesk_py.models import RateLimitCounter

        db.session.execute(update(RateLimitCounter).values(expires_at=time.time() - 1))
        db.session.commit()
    assert client.post("/submit_ticket", data=data).status_code == 303


@pytest.mark.parametrize("ban, email", [
    ("spammer@example.com", "Spammer@Example.com"),
    ("@spam.example", "anyone@spam.example"),
])
def test_banned_emails_cannot_submit(app, client, quick_form, ban, email):
    with app.app_context():
        bans.ban_email(ban)
    data, _ = _form(client, email=email, message="Buy now")
    resp = client.post("/submit_ticket", data=data)
    assert resp.status_code == 403
    assert "You have been banned from submitting new support tickets." in resp.get_data(as_text=True)
    assert _count(app) == 0
    data, _ = _form(client, email="friend@example.com")
    assert client.post("/submit_ticket", data=data).status_code == 303


@pytest.mark.parametrize("ban", ["203.0.113.9", "203.0.113.1-203.0.113.20", "203.0.113.0/24", "203.0.*.*"])
def test_banned_ips_cannot_submit(app, client, quick_form, ban):
    with app.app_context():
        bans.ban_ip(ban)
    env = {"REMOTE_ADDR": "203.0.113.9"}
    html = client.get("/submit_ticket?category=1", environ_base=env).get_data(as_text=True)
    data = {**hidden_fields(html), "name": "X", "email": "x@example.com", "subject": "s", "message": "m",
            "question": ANSWER}
    resp = client.post("/submit_ticket", data=data, environ_base=env)
    assert resp.status_code == 403
    assert _count(app) == 0
    # the next address is fine
    resp = client.post("/submit_ticket", data=data, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert resp.status_code == 303


def test_max_open_tickets_per_email(app, client, quick_form, make_ticket):
    with app.app_context():
        settings.save({"max_open": 2})
    make_ticket(email="busy@example.com")
    make_ticket(email="BUSY@example.com")
    data, _ = _form(client, email="busy@example.com", message="Third")
    resp = client.post("/submit_ticket", data=data)
    assert resp.status_code == 403
    assert "maximum number of open tickets (2 of 2)" in resp.get_data(as_text=True)
    assert _count(app) == 2
    # a resolved ticket no longer counts
    with app.app_context():
        db.session.execute(update(Ticket).values(status_id=4).where(Ticket.id == db.session.scalar(
            select(func.min(Ticket.id)))))
        db.session.commit()
    assert client.post("/submit_ticket", data=data).status_code == 303


def test_an_expired_session_brings_the_form_back(app, client, quick_form):
    data, _ = _form(client, message="Long message typed over an hour")
    data["csrf_token"] = "expired"
    resp = client.post("/submit_ticket", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Your session expired" in html
    assert "Long message typed over an hour</textarea>" in html
    assert _count(app) == 0
    resp = client.post("/submit_ticket", data={**data, **hidden_fields(html)})
    assert resp.status_code == 303


def test_two_simultaneous_posts_of_one_form_file_one_ticket(app, quick_form, live_server):
    """A double click: both requests race; the database lets exactly one of them through."""
    import http.client
    import threading
    import urllib.parse
    from http.cookies import SimpleCookie

    def connect():
        return http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)

    conn = connect()
    conn.request("GET", "/submit_ticket?category=1")
    resp = conn.getresponse()
    html = resp.read().decode()
    cookie = SimpleCookie()
    for value in resp.headers.get_all("Set-Cookie"):
        cookie.load(value)
    header = "; ".join(f"{k}={m.value}" for k, m in cookie.items())
    body = urllib.parse.urlencode({**hidden_fields(html), "name": "Racer", "email": "race@example.com",
                                   "subject": "Twice", "message": "Clicked twice", "question": ANSWER})
    statuses = []
    gate = threading.Barrier(2)

    def post():
        c = connect()
        gate.wait()
        c.request("POST", "/submit_ticket", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": header})
        r = c.getresponse()
        r.read()
        statuses.append((r.status, r.getheader("Location")))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _loc in statuses] == [303, 303]  # both see the confirmation ...
    assert _count(app) == 1  # ... of the one ticket filed
