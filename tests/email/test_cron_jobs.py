"""``hesk-py cron`` and the secret cron URL: the outbox fault test (mail server down while 100 tickets are
filed: every confirmation arrives once), overdue notices (HESK's rules, once per due date), the job lease,
and ``/cron?key=...``."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import JobRun, OutboxMessage, User
from hesk_py.models.types import utcnow
from hesk_py.services import accounts, jobs, mailer, tickets
from tests.admin.test_settings import words

URL_KEY = "k3y-for-the-cron-url_0123456789"


# --- the outbox: never lost, never twice ---------------------------------------------------------------

def test_mail_server_down_while_100_tickets_are_filed_every_confirmation_arrives_once(app, runner, make_ticket,
                                                                                     smtp_server):
    smtp_server.stop()
    for n in range(50):
        make_ticket(email=f"customer{n}@example.org", autoassign=False)
    result = runner.invoke(args=["cron", "--job", "outbox"])  # cron runs while the server is down
    assert result.output.strip() == "outbox: 0 sent, 50 to retry, 0 failed"
    for n in range(50, 100):
        make_ticket(email=f"customer{n}@example.org", autoassign=False)
    smtp_server.start()  # the server is back on the same port
    with app.app_context():  # ... and the retry time of the first 50 has come
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()

    # two cron runs overlap (two machines, or a slow run and the next one)
    lines = []

    def cron_run():
        with app.app_context():
            lines.append(jobs.run("outbox"))
            db.session.remove()

    threads = [threading.Thread(target=cron_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(int(line.split(" sent")[0]) for line in lines) == 100
    assert runner.invoke(args=["cron", "--job", "outbox"]).output.strip() == "outbox: 0 sent, 0 to retry, 0 failed"

    mails = smtp_server.wait_for(100)
    assert len(smtp_server.wait_for(101, timeout=0.5)) == 100  # and no more come
    assert sorted(str(m["To"]) for m in mails) == sorted(f"customer{n}@example.org" for n in range(100))
    assert len({m["Message-ID"] for m in mails}) == 100
    assert all("Ticket received" in m["Subject"] for m in mails)
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")) == 100


def test_a_mail_that_cannot_be_rendered_does_not_hold_up_the_others(app, make_ticket, smtp_server):
    make_ticket(email="first@example.org", autoassign=False)
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(template="no_such_template"))
        db.session.commit()
    make_ticket(email="second@example.org", autoassign=False)
    with app.app_context():
        assert mailer.deliver_due() == {"sent": 1, "retried": 1, "failed": 0}
        broken = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "first@example.org"))
        assert broken.status == "queued" and broken.last_error.startswith("ValueError")
        assert broken.lease_owner is None
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "second@example.org"


# --- overdue notices -----------------------------------------------------------------------------------

@pytest.fixture
def staff(app, admin, make_user):
    """An owner, a colleague who gets unassigned overdue notices and one who turned them off."""
    ids = {"admin": admin, "owner": make_user("owner"), "colleague": make_user("colleague"),
           "quiet": make_user("quiet")}
    with app.app_context():
        accounts.save_preferences(db.session.get(User, ids["quiet"]), {"notify_overdue_unassigned": False})
    return ids


def _ticket(app, *, due_days: float | None, owner: int | None = None, resolved: bool = False, **kw) -> str:
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        actor = tickets.Actor.staff(admin)
        ticket = tickets.create_ticket(name="Casey Customer", email="casey@example.com", subject=kw.get(
            "subject", "Printer on fire"), message="It smokes.", category_id=1,
            actor=tickets.Actor.customer("Casey Customer"), autoassign=False)
        if owner:
            tickets.assign(ticket, owner, actor=actor, notify=False)
        if due_days is not None:
            tickets.set_due_date(ticket, utcnow() + timedelta(days=due_days), actor=actor)
        if resolved:
            tickets.resolve(ticket, actor=actor, notify=False)
        db.session.execute(update(OutboxMessage).values(status="sent"))  # only the overdue notices count below
        db.session.commit()
        return ticket.trackid


def _overdue_mail(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.recipient, OutboxMessage.context).where(
            OutboxMessage.template == "overdue_ticket", OutboxMessage.status == "queued")).all()
        return sorted((recipient, ctx["trackid"]) for recipient, ctx in rows)


def test_overdue_tickets_are_notified_once_to_the_owner_or_the_categorys_staff(app, runner, staff, client,
                                                                              login):
    mine = _ticket(app, due_days=-1, owner=staff["owner"])
    unassigned = _ticket(app, due_days=-0.1)
    _ticket(app, due_days=-3, owner=staff["owner"], resolved=True)  # resolved: not overdue
    _ticket(app, due_days=2, owner=staff["owner"])  # not due yet
    _ticket(app, due_days=None)  # no due date

    result = runner.invoke(args=["cron", "--job", "overdue"])
    assert result.output.strip() == "overdue: 2 overdue tickets notified"
    assert _overdue_mail(app) == sorted([
        ("owner@example.com", mine),
        ("admin@example.com", unassigned), ("colleague@example.com", unassigned), ("owner@example.com", unassigned),
    ])
    # once per ticket
    assert runner.invoke(args=["cron", "--job", "overdue"]).output.strip() == "overdue: 0 overdue tickets notified"
    login("admin")
    assert "Overdue email notification sent" in words(client.get(f"/admin/tickets/{mine}/history"))


def test_the_overdue_notice_reaches_the_owners_mailbox(app, runner, staff, smtp_server):
    mine = _ticket(app, due_days=-1, owner=staff["owner"])
    assert runner.invoke(args=["cron", "--job", "overdue"]).output.strip() == "overdue: 1 overdue ticket notified"
    assert runner.invoke(args=["cron", "--job", "outbox"]).output.strip() == "outbox: 1 sent, 0 to retry, 0 failed"
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "owner@example.com"
    assert mail["Subject"].startswith(f"[#{mine}] Ticket overdue:")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "was due on" in body and f"/admin/tickets/{mine}" in body


def test_a_new_due_date_arms_the_overdue_notice_again(app, runner, staff):
    mine = _ticket(app, due_days=-1, owner=staff["owner"])
    assert runner.invoke(args=["cron", "--job", "overdue"]).output.strip() == "overdue: 1 overdue ticket notified"
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(status="sent"))
        db.session.commit()
        ticket = tickets.get_ticket(mine)
        admin = db.session.get(User, staff["admin"])
        tickets.set_due_date(ticket, utcnow() - timedelta(hours=1), actor=tickets.Actor.staff(admin))
        assert ticket.overdue_email_sent is False
    assert runner.invoke(args=["cron", "--job", "overdue"]).output.strip() == "overdue: 1 overdue ticket notified"
    assert _overdue_mail(app) == [("owner@example.com", mine)]


def test_two_overdue_runs_at_once_notify_each_ticket_once(app, staff):
    for _n in range(10):
        _ticket(app, due_days=-1, owner=staff["owner"])
    done = []

    def run():
        with app.app_context():
            done.append(tickets.notify_overdue())
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(done) == 10
    assert len(_overdue_mail(app)) == 10


# --- the whole cron run and the job lease ----------------------------------------------------------------

def test_cron_prints_one_line_per_job(app, runner):
    result = runner.invoke(args=["cron"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "imap: off", "pop3: off", "autoclose: off", "overdue: 0 overdue tickets notified",
        "outbox: 0 sent, 0 to retry, 0 failed",
    ]
    with app.app_context():
        runs = jobs.last_runs()
        assert set(runs) == {"imap", "pop3", "autoclose", "overdue", "outbox"}
        assert all(r.ok and r.lease_owner is None for r in runs.values())


def test_a_job_whose_lease_is_held_is_skipped(app, runner, staff):
    _ticket(app, due_days=-1, owner=staff["owner"])
    with app.app_context():
        owner, _until = jobs.acquire("overdue", timedelta(minutes=jobs.LEASE_MINUTES))
        assert owner and jobs.acquire("overdue", timedelta(minutes=1))[0] is None
    result = runner.invoke(args=["cron", "--job", "overdue"])
    assert result.output.startswith("overdue: skipped: the previous run has not finished")
    assert _overdue_mail(app) == []
    with app.app_context():
        jobs.release("overdue", owner)
    assert runner.invoke(args=["cron", "--job", "overdue"]).output.strip() == "overdue: 1 overdue ticket notified"


# --- the cron URL ----------------------------------------------------------------------------------------

def test_cron_url_is_404_without_a_key_set_or_with_a_wrong_key(app, client, make_ticket, smtp_server):
    make_ticket(autoassign=False)
    assert client.get("/cron").status_code == 404
    assert client.get("/cron?key=").status_code == 404
    with app.app_context():
        settings.save({"url_key": URL_KEY})
    assert client.get("/cron?key=wrong-key-wrong-key-wrong").status_code == 404
    assert client.get("/cron").status_code == 404
    assert client.post("/cron", data={"key": URL_KEY[:-1]}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(JobRun.name))) == 0
        assert db.session.scalar(select(OutboxMessage.status)) == "queued"


def test_cron_url_with_the_key_runs_the_jobs(app, client, make_ticket, smtp_server):
    make_ticket(email="url@example.org", autoassign=False)
    with app.app_context():
        settings.save({"url_key": URL_KEY})
    resp = client.get(f"/cron?key={URL_KEY}")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert resp.get_data(as_text=True).splitlines() == [
        "imap: off", "pop3: off", "autoclose: off", "overdue: 0 overdue tickets notified",
        "outbox: 1 sent, 0 to retry, 0 failed",
    ]
    assert resp.headers["Cache-Control"] == "no-store"
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "url@example.org"
    # POST (no CSRF token: the key is the credential) and one job
    resp = client.post("/cron", data={"key": URL_KEY, "job": "outbox"})
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "outbox: 0 sent, 0 to retry, 0 failed\n"
    assert client.post("/cron", data={"key": URL_KEY, "job": "nope"}).status_code == 400


def test_url_key_must_be_long_enough(app, client, admin, login):
    from tests.admin.test_settings import submit

    login("admin")
    resp = submit(client, "help_desk", {"url_key": "short"})
    assert resp.status_code != 302
    assert "At least 20 characters" in words(resp)
    assert submit(client, "help_desk", {"url_key": URL_KEY}).status_code == 302
    with app.app_context():
        assert settings.get("url_key") == URL_KEY
