"""Followers from the To and Cc of an email while customer accounts are on: only addresses with a verified
(active) account become followers, as on the ticket form (HESK: "Followers without a verified account will be
ignored"); the confirmation reaches the requester in To and only those followers in Cc (received over SMTP).
Staff still add any address (the staff panel's own tests)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer
from hesk_py.models.customers import ACCOUNT_ACTIVE, ACCOUNT_PENDING, ACCOUNT_UNVERIFIED
from hesk_py.services import followers, mailer, tickets
from hesk_py.services.inbound import import_message
from tests.email.test_fetch import eml  # a corpus message, with replacements


def _account(email: str, name: str, status: str) -> None:
    db.session.add(Customer(email=email, name=name, account_status=status,
                            password_hash="x" if status == ACCOUNT_ACTIVE else None))
    db.session.commit()


def _follower_emails(trackid: str) -> list[str]:
    return [c.email for c in followers.followers_of(tickets.get_ticket(trackid))]


@pytest.mark.parametrize("mode", [1, 2, 3])
def test_with_accounts_on_only_verified_accounts_in_to_and_cc_become_followers(app_ctx, smtp_server, mode):
    settings.save({"multi_eml": True, "email_include_to": True, "email_include_cc": True,
                   "customer_accounts": mode, "imap_user": "support@helpdesk.example"})
    _account("paula@client.example", "Paula Requester", ACCOUNT_ACTIVE)  # modes 2 and 3: she needs one to file
    _account("tom@client.example", "Tom Teammate", ACCOUNT_ACTIVE)
    _account("ursula@client.example", "Ursula Böhm", ACCOUNT_UNVERIFIED)  # registered, never confirmed
    _account("desk-imap@helpdesk.example", "Waiting", ACCOUNT_PENDING)  # confirmed, waiting for approval
    result = import_message(eml("cc_followers"), channel="pipe")
    assert result.action == "created"
    assert _follower_emails(result.trackid) == ["tom@client.example"]
    assert tickets.get_ticket(result.trackid).follower_count == 1
    assert mailer.deliver_due()["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "paula@client.example" and mail["Cc"] == "tom@client.example"
    assert sorted(smtp_server.envelopes[0].rcpt_tos) == ["paula@client.example", "tom@client.example"]


def test_once_confirmed_the_address_counts_on_the_next_email(app_ctx):
    settings.save({"multi_eml": True, "email_include_to": True, "email_include_cc": True, "customer_accounts": 1,
                   "imap_user": "support@helpdesk.example"})
    result = import_message(eml("cc_followers"), channel="pipe")
    assert _follower_emails(result.trackid) == []  # nobody has an account yet
    ursula = db.session.scalar(select(Customer).where(Customer.email == "ursula@client.example"))
    assert ursula is None  # an ignored address is not even kept as a contact
    _account("ursula@client.example", "Ursula Böhm", ACCOUNT_ACTIVE)
    again = import_message(eml("cc_followers", **{"cc-followers-1@client.example": "cc-followers-2@client.example",
                                                  "Projector in room 4": "Projector in room 5"}), channel="pipe")
    assert again.action == "created" and again.trackid != result.trackid
    assert _follower_emails(again.trackid) == ["ursula@client.example"]


def test_with_accounts_off_every_address_counts_as_before(app_ctx):
    settings.save({"multi_eml": True, "email_include_to": True, "email_include_cc": True, "customer_accounts": 0,
                   "imap_user": "support@helpdesk.example", "pop3_user": "desk-imap@helpdesk.example"})
    result = import_message(eml("cc_followers"), channel="pipe")
    assert _follower_emails(result.trackid) == ["tom@client.example", "ursula@client.example",
                                                "spammer@junk.example"]
