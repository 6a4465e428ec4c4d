"""Email piping and fetching when customer accounts are required: senders without an active account get no
ticket (the mail stays in the receipt log as refused) and, with ``pipe_customer_rejection_notification``,
one email telling them why per ``pipe_customer_rejection_email_cooldown_hours`` (received over SMTP).
The account emails' templates can be edited by administrators like every other notification."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, InboundMail, PipeRejection, Ticket
from hesk_py.models.customers import ACCOUNT_ACTIVE
from hesk_py.models.types import utcnow
from hesk_py.services import email_templates, mailer
from hesk_py.services.inbound import import_message

RAW = (b"From: Stranger Danger <stranger@example.org>\r\nTo: help@example.com\r\n"
       b"Subject: My printer\r\nMessage-ID: <%(n)s@example.org>\r\n\r\nIt does not print (try %(n)s).\r\n")


def mail_from(n: int, sender: bytes = b"stranger@example.org") -> bytes:
    return RAW.replace(b"stranger@example.org", sender) % {b"n": str(n).encode()}


def set_mode(app, mode=2, **extra):
    settings.save({"customer_accounts": mode, **extra})


def tickets_count() -> int:
    return db.session.scalar(select(func.count(Ticket.id)))


def test_senders_without_an_account_are_refused_and_told_once_per_cooldown(app_ctx, smtp_server):
    set_mode(app_ctx, pipe_customer_rejection_email_cooldown_hours=24)
    result = import_message(mail_from(1), channel="pipe")
    assert result.action == "refused" and "no customer account" in result.reason
    assert tickets_count() == 0
    receipt = db.session.scalar(select(InboundMail))
    assert (receipt.action, receipt.sender) == ("refused", "stranger@example.org")
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == "stranger@example.org"
    assert mail["Subject"] == "Account required to submit support tickets"
    body = mail.get_content()
    assert "https://www.example.com/helpdesk/register" in body and '"My printer"' in body
    # a second mail within the cooldown: refused, not answered
    assert import_message(mail_from(2), channel="pipe").action == "refused"
    assert mailer.deliver_due()["sent"] == 0
    # the cooldown has passed (the stored time moved back)
    db.session.execute(update(PipeRejection).values(sent_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    import_message(mail_from(3), channel="pipe")
    assert mailer.deliver_due()["sent"] == 1
    assert tickets_count() == 0


def test_no_rejection_mail_when_turned_off(app_ctx, smtp_server):
    set_mode(app_ctx, pipe_customer_rejection_notification=False)
    assert import_message(mail_from(1), channel="pipe").action == "refused"
    assert mailer.deliver_due()["sent"] == 0


def test_without_self_registration_the_mail_says_staff_create_accounts(app_ctx, smtp_server):
    set_mode(app_ctx, customer_accounts_registration=2)
    import_message(mail_from(1), channel="imap")
    mailer.deliver_due()
    body = smtp_server.wait_for(1)[0].get_content()
    assert "accounts are created by our staff" in body and "/register" not in body


def test_an_active_account_files_tickets_by_email(app_ctx):
    set_mode(app_ctx)
    db.session.add(Customer(email="member@example.org", name="Member", account_status=ACCOUNT_ACTIVE,
                            password_hash="x"))
    db.session.commit()
    result = import_message(mail_from(1, b"member@example.org"), channel="pipe")
    assert result.action == "created"
    assert db.session.scalar(select(Ticket.customer_id)) is not None


def test_optional_accounts_do_not_refuse_anyone(app_ctx):
    set_mode(app_ctx, mode=1)
    assert import_message(mail_from(1), channel="pipe").action == "created"


def test_account_emails_are_on_the_email_templates_page(app_ctx):
    names = email_templates.names()
    for name in ("customer_verify_registration", "customer_verify_new_email", "customer_reset_password",
                 "customer_account_created", "customer_approved", "customer_rejected", "new_customer_approval",
                 "email_rejected_can_self_register", "email_rejected_cannot_self_register"):
        assert name in names
        defaults = email_templates.defaults(name, "en")
        assert defaults["subject"] and defaults["body_text"].strip()
    assert "%%VERIFICATION_URL%%" in email_templates.defaults("customer_verify_registration", "en")["body_text"]
    assert email_templates.info("new_customer_approval").audience == email_templates.AUDIENCE_STAFF


def test_an_edited_template_is_what_customers_receive(app_ctx, client, smtp_server):
    from tests.public.accounts_helpers import accounts_on, deliver, link_in, register

    email_templates.save("customer_verify_registration", "en", subject="Welcome to %%SITE_TITLE%%",
                         body_text="Hi %%FIRST_NAME%%, confirm here: %%VERIFICATION_URL%% (%%HOURS%% hours)",
                         body_html="")
    accounts_on(app_ctx)
    register(client)
    deliver(app_ctx)
    mail = smtp_server.wait_for(1)[0]
    assert mail["Subject"] == f"Welcome to {settings.get('hesk_title')}"
    body = mail.get_content()
    assert body.startswith("Hi Casey, confirm here: https://www.example.com/helpdesk/verify/") and "(24 hours)" in body
    path, _token = link_in(mail)
    assert client.get(path).status_code == 200
