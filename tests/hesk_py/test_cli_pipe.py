"""``hesk-py pipe``: one email on standard input, one line saying what became of it, and the exit codes a
mail server understands (0 handled, 69 bounce it, 75 try again later)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.cli import EX_TEMPFAIL, EX_UNAVAILABLE
from hesk_py.extensions import db
from hesk_py.models import QuarantinedMail, Ticket
from hesk_py.services import tickets
from tests.conftest import make_test_app

CORPUS = Path(__file__).resolve().parents[1] / "email" / "corpus"


def _piping_on(app):
    with app.app_context():
        settings.save({"email_piping": True})


def test_pipe_files_a_new_ticket_and_says_so(app, runner):
    _piping_on(app)
    result = runner.invoke(args=["pipe"], input=(CORPUS / "koi8r_body.eml").read_bytes())
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("created: new ticket ")
    trackid = line.rsplit(" ", 1)[1]
    with app.app_context():
        ticket = tickets.get_ticket(trackid)
        assert ticket.subject == "Не приходят письма" and ticket.email == "polina@mail.example"


def test_pipe_adds_a_reply_and_says_so(app, runner, make_ticket):
    _piping_on(app)
    trackid = make_ticket()
    raw = (CORPUS / "gmail_reply_quoted.eml").read_bytes().replace(b"ABC-DEF-1234", trackid.encode())
    result = runner.invoke(args=["pipe"], input=raw)
    assert result.exit_code == 0
    assert result.output.strip() == f"replied: reply added to ticket {trackid}"


def test_pipe_reports_ignored_and_quarantined_mail_with_exit_0(app, runner):
    _piping_on(app)
    ignored = runner.invoke(args=["pipe"], input=(CORPUS / "bounce.eml").read_bytes())
    assert ignored.exit_code == 0 and ignored.output.startswith("ignored: This is a bounce")
    kept = runner.invoke(args=["pipe"], input=(CORPUS / "no_sender.eml").read_bytes())
    assert kept.exit_code == 0 and kept.output.startswith("quarantined: kept in the quarantine as #")
    with app.app_context():
        assert db.session.scalar(select(func.count(QuarantinedMail.id))) == 1
        assert db.session.scalar(select(func.count(Ticket.id))) == 0


def test_email_piping_off_bounces_the_mail_back(app, runner):
    result = runner.invoke(args=["pipe"], input=(CORPUS / "koi8r_body.eml").read_bytes())
    assert result.exit_code == EX_UNAVAILABLE
    assert "Email piping is turned off" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Ticket.id))) == 0


def test_database_down_answers_75_so_the_mail_server_retries(tmp_path):
    down = make_test_app("mysql+pymysql://hesk:nope@127.0.0.1:9/hesk", tmp_path,
                         SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    result = down.test_cli_runner().invoke(args=["pipe"], input=(CORPUS / "koi8r_body.eml").read_bytes())
    assert result.exit_code == EX_TEMPFAIL
    assert "database is unavailable" in result.output
