"""The Email and Attachments settings as the mail that arrives shows them (over real SMTP, aiosmtpd):
``email_formatting`` (which parts a mail has, and where the plain text comes from) and the
attachments-in-email options (HESK's "Email Attachment Options": link or attach, which sizes, how many)."""
from __future__ import annotations

import pytest

from hesk_py import settings
from hesk_py.services import mailer
from hesk_py.services import email_templates as templates
from tests.email.test_sending import URL, _parts, _staff_reply_with_files, _stored, _text, _ticket


def _reply_mail(smtp_server, files):
    """A staff reply with these files; the customer's notification as it arrived."""
    t, reply = _staff_reply_with_files(files)
    before = len(smtp_server.wait_for(1))
    assert mailer.deliver_due()["sent"] == 1
    return t, reply, smtp_server.wait_for(before + 1)[-1]


def _attached(mail) -> dict[str, str]:
    return {p.get_filename(): p.get_content() for p in mail.iter_attachments()}


def _message_template():
    templates.save("new_reply_by_staff", "en", subject="[#%%TRACK_ID%%] Reply",
                   body_text="%%MESSAGE%%", body_html="")


def test_email_formatting_3_keeps_the_plain_text_template_beside_an_html_one(app_ctx, smtp_server):
    # 3: HTML plus the plain text template as the text version; 2 (tests/email/test_sending.py) makes
    # the text version from the HTML instead
    settings.save({"email_formatting": 3})
    templates.save("new_ticket", "en", subject="Got it", body_text="PLAIN for %%NAME%%",
                   body_html="<p>HTML for <b>%%NAME%%</b></p>")
    _ticket(language="en", name="Hana")
    assert mailer.deliver_due()["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert [p.get_content_type() for p in mail.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    parts = _parts(mail)
    assert "PLAIN for Hana" in parts["text/plain"] and "HTML for" not in parts["text/plain"]
    assert "HTML for <b>Hana</b>" in parts["text/html"]

    settings.save({"email_formatting": 2})
    _ticket(language="en", name="Ivo")
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(2)[-1]
    assert "HTML for Ivo" in _parts(mail)["text/plain"] and "PLAIN" not in _parts(mail)["text/plain"]


def test_files_are_linked_by_default_and_attached_when_asked(app_ctx, smtp_server):
    _message_template()
    t, reply, mail = _reply_mail(smtp_server, [_stored("fix.txt", b"the fix")])
    assert _attached(mail) == {}
    assert f"fix.txt\n{URL}/ticket/attachment/{reply.attachments[0].id}?track={t.trackid}" in _text(mail)


def test_attaching_files_of_any_size(app_ctx, smtp_server):
    settings.save({"attachments.attachment_in_email_type": 1, "attachments.file_max_size": 1,
                   "attachments.direct_attachment_in_email": 1})
    _message_template()
    big = b"y" * 5000  # over file_max_size, attached anyway ("Files of any size")
    _t, _reply, mail = _reply_mail(smtp_server, [_stored("big.txt", big)])
    assert _attached(mail) == {"big.txt": big.decode()}
    assert "/ticket/attachment/" not in _text(mail.get_body(("plain",)))


def test_only_files_smaller_than_the_limit_are_attached(app_ctx, smtp_server):
    settings.save({"attachments.attachment_in_email_type": 1, "attachments.file_max_size": 2})
    _message_template()
    _t, reply, mail = _reply_mail(smtp_server, [_stored("under.txt", b"u" * 2047), _stored("exact.txt", b"e" * 2048)])
    assert set(_attached(mail)) == {"under.txt"}  # 2 KB exactly is not smaller than 2 KB
    assert f"exact.txt\n{URL}/ticket/attachment/{reply.attachments[1].id}" in _text(mail.get_body(("plain",)))


@pytest.mark.parametrize("how_many,first_x,attached", [
    (2, 2, {"a.txt", "b.txt"}),   # only the first files: the first two, the third as a link
    (2, 1, {"a.txt"}),
    (3, 1, {"a.txt", "b.txt", "c.txt"}),  # all files (first_x then does not matter)
])
def test_how_many_files_are_attached(app_ctx, smtp_server, how_many, first_x, attached):
    settings.save({"attachments.attachment_in_email_type": 1, "attachments.max_number": 3,
                   "attachments.direct_attachment_in_email_no_of_files": how_many,
                   "attachments.first_x_attachments": first_x})
    _message_template()
    t, reply, mail = _reply_mail(smtp_server, [_stored(n, n.encode()) for n in ("a.txt", "b.txt", "c.txt")])
    assert set(_attached(mail)) == attached
    body = _text(mail.get_body(("plain",)))
    for att in reply.attachments:
        link = f"{att.real_name}\n{URL}/ticket/attachment/{att.id}?track={t.trackid}"
        assert (link in body) == (att.real_name not in attached), att.real_name


def test_with_attachments_off_a_mail_neither_carries_nor_links_files(app_ctx, smtp_server):
    settings.save({"attachments.attachment_in_email_type": 1})
    _message_template()
    t, reply = _staff_reply_with_files([_stored("old.txt", b"old")])
    settings.save({"attachments.use": False})
    before = len(smtp_server.wait_for(1))
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(before + 1)[-1]
    assert _attached(mail) == {} and "old.txt" not in _text(mail)
    assert "Here is the fix." in _text(mail)


# --- the Email tab's sending settings: mail really received (or not) by an SMTP server -----------------

import contextlib  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402

from sqlalchemy import select, update  # noqa: E402

from hesk_py.extensions import db  # noqa: E402
from hesk_py.models import OutboxMessage  # noqa: E402
from hesk_py.models.types import utcnow  # noqa: E402
from tests.conftest import _Inbox  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _smtp(**kwargs):
    """Another aiosmtpd on loopback (with TLS, STARTTLS or a login when asked): its inbox."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    inbox.port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **kwargs)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def server_tls(tmp_path):
    """A server-side TLS context with a self-signed certificate for 127.0.0.1 (not trusted by the system)."""
    from tests.email.conftest import _self_signed

    cert, key = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
    _self_signed(cert, key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    context.cert_path = cert
    return context


def _one_mail(name: str = "Pat Mailer"):
    """A new ticket: its confirmation is queued."""
    _ticket(language="en", name=name, email="pat@example.com", subject="Mail test")


def _deliver_now() -> dict:
    db.session.execute(update(OutboxMessage).where(OutboxMessage.status == "queued")
                       .values(next_attempt_at=utcnow()))  # retries are due at once
    db.session.commit()
    return mailer.deliver_due()


def _last_error() -> str:
    return db.session.scalar(select(OutboxMessage.last_error).order_by(OutboxMessage.id.desc()).limit(1)) or ""


def test_smtp_on_sends_through_the_server_and_off_does_not(app_ctx, smtp_server):
    settings.save({"smtp": False})
    _one_mail()
    _deliver_now()  # to this machine's own mail server (localhost:25), not to the SMTP server below
    assert smtp_server.wait_for(1, timeout=1) == []
    db.session.execute(update(OutboxMessage).values(status="failed"))
    db.session.commit()
    settings.save({"smtp": True})
    _one_mail("Quinn Sent")
    assert _deliver_now()["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert "Quinn Sent" in _text(mail)


def test_smtp_host_and_port_choose_the_server(app_ctx, smtp_server):
    with _smtp() as other:
        settings.save({"smtp_host_port": other.port})
        _one_mail()
        assert _deliver_now()["sent"] == 1
        assert len(other.wait_for(1)) == 1 and smtp_server.wait_for(1, timeout=0.5) == []
        settings.save({"smtp_host_name": "127.0.0.2"})  # loopback too, but nothing listens there
        _one_mail()
        assert _deliver_now()["retried"] == 1
        assert "ConnectionRefused" in _last_error() or "refused" in _last_error().lower()
        settings.save({"smtp_host_name": "127.0.0.1"})
        assert _deliver_now()["sent"] == 1
        assert len(other.wait_for(2)) == 2


def test_smtp_timeout_is_how_long_a_silent_server_is_waited_for(app_ctx):
    with socket.socket() as silent:  # accepts connections, never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.save({"smtp": True, "smtp_host_name": "127.0.0.1", "smtp_host_port": silent.getsockname()[1],
                       "smtp_timeout": 1})
        _one_mail()
        started = time.monotonic()
        assert _deliver_now()["retried"] == 1
        quick = time.monotonic() - started
        assert "timed out" in _last_error().lower() or "timeout" in _last_error().lower()
        settings.save({"smtp_timeout": 3})
        started = time.monotonic()
        assert _deliver_now()["retried"] == 1
        slow = time.monotonic() - started
    assert 0.8 <= quick < 2.5 and 2.8 <= slow < 6, (quick, slow)


def test_smtp_ssl_and_not_validating_the_certificate(app_ctx, server_tls, monkeypatch):
    with _smtp(ssl_context=server_tls) as inbox:
        settings.save({"smtp": True, "smtp_host_name": "127.0.0.1", "smtp_host_port": inbox.port, "smtp_enc": "ssl"})
        _one_mail()
        assert _deliver_now()["retried"] == 1  # a self-signed certificate is refused...
        assert "CERTIFICATE_VERIFY_FAILED" in _last_error() or "SSLCertVerificationError" in _last_error()
        settings.save({"smtp_noval_cert": True})  # ...unless it is not validated
        assert _deliver_now()["sent"] == 1
        assert len(inbox.wait_for(1)) == 1
        # validated again, and trusted as the system's CA file would trust it
        settings.save({"smtp_noval_cert": False})
        monkeypatch.setenv("SSL_CERT_FILE", str(server_tls.cert_path))
        _one_mail()
        assert _deliver_now()["sent"] == 1
        assert len(inbox.wait_for(2)) == 2


def test_smtp_starttls_is_used_when_the_server_requires_it(app_ctx, server_tls):
    with _smtp(tls_context=server_tls, require_starttls=True) as inbox:
        settings.save({"smtp": True, "smtp_host_name": "127.0.0.1", "smtp_host_port": inbox.port, "smtp_enc": "",
                       "smtp_noval_cert": True})
        _one_mail()
        assert _deliver_now()["retried"] == 1  # no encryption: the server refuses the mail
        assert "STARTTLS" in _last_error()
        settings.save({"smtp_enc": "tls"})
        assert _deliver_now()["sent"] == 1
        assert len(inbox.wait_for(1)) == 1


def test_smtp_user_and_password_log_in(app_ctx):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"desk", b"S3cret-pw")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    with _smtp(authenticator=authenticator, auth_required=True, auth_require_tls=False) as inbox:
        settings.save({"smtp": True, "smtp_host_name": "127.0.0.1", "smtp_host_port": inbox.port, "smtp_enc": "",
                       "smtp_timeout": 5})
        _one_mail()
        assert _deliver_now()["retried"] == 1  # no login: refused
        settings.save({"smtp_user": "desk", "smtp_password": "wrong-password"})
        assert _deliver_now()["retried"] == 1
        assert "SMTPAuthenticationError" in _last_error() and "wrong-password" not in _last_error()
        settings.save({"smtp_password": "S3cret-pw"})
        assert _deliver_now()["sent"] == 1
        assert len(inbox.wait_for(1)) == 1


def test_from_address_and_name_and_the_help_desk_url_in_links(app_ctx, smtp_server):
    settings.save({"noreply_mail": "support@acme.example", "noreply_name": "Acme Support",
                   "hesk_url": "https://help.acme.example/desk"})
    t = _ticket(language="en", subject="Links")
    assert mailer.deliver_due()["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["From"] == "Acme Support <support@acme.example>"
    assert f"https://help.acme.example/desk/ticket?track={t.trackid}" in _text(mail)
    assert URL not in _text(mail)


def test_notify_closed_tells_the_customer_a_ticket_was_resolved(app_ctx, smtp_server):
    from hesk_py.models import Ticket
    from hesk_py.services import tickets
    from hesk_py.services.tickets import Actor

    first = _ticket(language="en", subject="First")
    second = _ticket(language="en", subject="Second")
    assert mailer.deliver_due()["sent"] == 2
    tickets.resolve(db.session.get(Ticket, first.id), actor=Actor.customer("Olena"))
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(3)[-1]
    assert mail["Subject"] == f"[#{first.trackid}] Your ticket has been resolved: First"
    settings.save({"notify_closed": False})
    tickets.resolve(db.session.get(Ticket, second.id), actor=Actor.customer("Olena"))
    assert mailer.deliver_due()["sent"] == 0
    assert len(smtp_server.wait_for(4, timeout=0.5)) == 3


def test_pop3_task_timeout(app, runner, mailbox):
    from datetime import timedelta

    from hesk_py.services import jobs
    from tests.email.test_fetch import configure, cron, simple, ticket_rows

    mailbox.deliver(simple(1))
    configure(app, mailbox.pop3_settings())
    with app.app_context():
        jobs.acquire("pop3", timedelta(minutes=15))  # a fetch that is still running
    assert cron(runner, "pop3").startswith("pop3: skipped: the previous run has not finished")
    assert ticket_rows(app) == []
    configure(app, {**mailbox.pop3_settings(), "pop3_job_wait": 0})  # 0: always start one
    assert cron(runner, "pop3").startswith("pop3: 1 emails: 1 new tickets")
