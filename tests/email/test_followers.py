"""Ticket followers (Cc) in email, over a real SMTP server (aiosmtpd) and real piping/IMAP: the requester
in To and the followers in Cc of every customer notification, muted addresses left out, the
``email_max_recipients`` cap, the follower tags of templates and canned responses, followers from the To/Cc
headers of incoming mail (``email_include_to``/``email_include_cc``, never our own addresses), and replies
by email from a follower. These tests are also the proof that ``multi_eml``, ``email_include_to``,
``email_include_cc`` and ``email_max_recipients`` take effect (tests/admin/test_settings_effects.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, OutboxMessage, Reply, Ticket, TicketEvent, TicketFollower, User
from hesk_py.services import bans, canned, followers, mailer, tickets
from hesk_py.services import email_templates as templates
from hesk_py.services.inbound import import_message
from hesk_py.services.tickets import Actor
from tests.email.test_fetch import eml  # a corpus message, with replacements


def _followers_on(**more):
    settings.save({"multi_eml": True, **more})


def _ticket(**kw) -> Ticket:
    data = dict(name="Casey Customer", email="casey@example.com", subject="Printer on fire",
                message="It started smoking this morning.", category_id=1,
                actor=Actor.customer("Casey Customer"), autoassign=False)
    data.update(kw)
    return tickets.create_ticket(**data)


def _deliver(smtp_server, n: int) -> list:
    """Send what is queued (``n`` emails) and return those the SMTP server received."""
    before = len(smtp_server.messages)
    assert mailer.deliver_due()["sent"] == n
    mails = smtp_server.wait_for(before + n)
    assert len(mails) == before + n, [m["To"] for m in mails]
    return mails[before:]


def _cc(mail) -> list[str]:
    return [a.strip() for a in str(mail["Cc"] or "").split(",") if a.strip()]


def _envelope(smtp_server, mail) -> list[str]:
    return smtp_server.envelopes[smtp_server.messages.index(mail)].rcpt_tos


def _staff() -> User:
    from hesk_py.services import accounts

    return accounts.create_user(username="sam", email="sam.staff@example.com", name="Sam Staff",
                                password="Staff-pass-w0rd", is_admin=True)


def _follower_emails(ticket: Ticket) -> list[str]:
    return [c.email for c in followers.followers_of(db.session.get(Ticket, ticket.id))]


# --- mail out: To and Cc ---------------------------------------------------------------------------

def test_new_ticket_and_staff_reply_go_to_the_requester_in_to_and_the_followers_in_cc(app_ctx, smtp_server):
    _followers_on()
    t = _ticket(followers=[("Fran Follower", "fran@partner.example"), "Nina@Partner.example"])
    (mail,) = _deliver(smtp_server, 1)
    assert mail["To"] == "casey@example.com"
    assert _cc(mail) == ["fran@partner.example", "nina@partner.example"]
    assert sorted(_envelope(smtp_server, mail)) == ["casey@example.com", "fran@partner.example",
                                                     "nina@partner.example"]
    assert mail["Subject"] == f"[#{t.trackid}] Ticket received: Printer on fire"

    staff = _staff()
    tickets.add_reply(db.session.get(Ticket, t.id), message="Unplug it, please.", actor=Actor.staff(staff))
    (mail,) = _deliver(smtp_server, 1)
    assert mail["Subject"] == f"[#{t.trackid}] New reply to: Printer on fire"
    assert mail["To"] == "casey@example.com"
    assert _cc(mail) == ["fran@partner.example", "nina@partner.example"]
    # one row in the outbox per email, the Cc beside the To
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.recipient, r.cc) for r in rows] == [("casey@example.com", ["fran@partner.example",
                                                                          "nina@partner.example"])] * 2


def test_the_resolved_notice_and_a_resent_notification_reach_the_followers(app_ctx, smtp_server):
    t = _ticket(followers=["fran@partner.example"])
    staff = _staff()
    _deliver(smtp_server, 1)
    tickets.resolve(db.session.get(Ticket, t.id), actor=Actor.staff(staff))
    (closed,) = _deliver(smtp_server, 1)
    assert "has been resolved" in closed["Subject"] and _cc(closed) == ["fran@partner.example"]
    assert tickets.resend_notification(db.session.get(Ticket, t.id), actor=Actor.staff(staff)) == "new_ticket"
    (again,) = _deliver(smtp_server, 1)
    assert again["To"] == "casey@example.com" and _cc(again) == ["fran@partner.example"]


def test_muted_followers_get_nothing_and_a_muted_requester_leaves_the_followers_in_to(app_ctx, smtp_server):
    bans.mute_email("@muted.example")
    t = _ticket(followers=["quiet@muted.example", "fran@partner.example"])
    (mail,) = _deliver(smtp_server, 1)
    assert mail["To"] == "casey@example.com" and _cc(mail) == ["fran@partner.example"]
    assert "quiet@muted.example" not in _envelope(smtp_server, mail)
    # the requester muted: the first follower left takes the To (spam filters dislike an empty To)
    bans.mute_email("casey@example.com")
    tickets.add_reply(db.session.get(Ticket, t.id), message="Hello?", actor=Actor.staff(_staff()))
    (mail,) = _deliver(smtp_server, 1)
    assert mail["To"] == "fran@partner.example" and mail["Cc"] is None
    assert _envelope(smtp_server, mail) == ["fran@partner.example"]


@pytest.mark.parametrize("cap,expected_cc", [
    (0, ["a@partner.example", "b@partner.example", "c@partner.example"]),  # 0: no limit
    (50, ["a@partner.example", "b@partner.example", "c@partner.example"]),  # the default
    (3, ["a@partner.example", "b@partner.example"]),  # To + Cc together: the Cc beyond it dropped
    (1, []),
])
def test_email_max_recipients_caps_to_and_cc_together(app_ctx, smtp_server, cap, expected_cc):
    settings.save({"email_max_recipients": cap})
    _ticket(followers=["a@partner.example", "b@partner.example", "c@partner.example"])
    (mail,) = _deliver(smtp_server, 1)
    assert mail["To"] == "casey@example.com"
    assert _cc(mail) == expected_cc
    assert sorted(_envelope(smtp_server, mail)) == sorted(["casey@example.com"] + expected_cc)


def test_a_follower_who_writes_in_another_language_gets_the_email_in_it(app_ctx, smtp_server):
    db.session.add(Customer(email="olena@example.com", name="Olena Kovalenko", language="uk"))
    db.session.commit()
    _ticket(followers=["olena@example.com", "fran@partner.example"], language="en")
    mails = _deliver(smtp_server, 2)
    english = next(m for m in mails if m["To"] == "casey@example.com")
    assert _cc(english) == ["fran@partner.example"]
    ukrainian = next(m for m in mails if m["To"] == "olena@example.com")
    assert ukrainian["Cc"] is None
    from flask_babel import force_locale

    with force_locale("uk"):
        marker = str(mailer.REPLY_MARKER)
    assert ukrainian.get_content().startswith(marker)


# --- template tags ---------------------------------------------------------------------------------

def test_follower_tags_in_an_edited_email_template(app_ctx, smtp_server):
    templates.save("new_reply_by_staff", "en", subject="[#%%TRACK_ID%%] For %%REQUESTER_FIRST_NAME%%",
                   body_text="From: %%REQUESTER%%|%%REQUESTER_NAME%%|%%REQUESTER_EMAIL%%\n"
                             "Cc: %%FOLLOWERS%%\nNames: %%FOLLOWER_NAMES%%\nEmails: %%FOLLOWER_EMAILS%%",
                   body_html="")
    t = _ticket(followers=[("Fran Follower", "fran@partner.example"), "nina@partner.example"])
    _deliver(smtp_server, 1)
    tickets.add_reply(db.session.get(Ticket, t.id), message="Done.", actor=Actor.staff(_staff()))
    (mail,) = _deliver(smtp_server, 1)
    assert mail["Subject"] == f"[#{t.trackid}] For Casey"
    body = mail.get_content()
    assert "From: Casey Customer <casey@example.com>|Casey Customer|casey@example.com" in body
    assert "Cc: Fran Follower <fran@partner.example>, nina@partner.example" in body
    assert "Names: Fran Follower\n" in body.replace("\r\n", "\n")
    assert "Emails: fran@partner.example, nina@partner.example" in body


def test_the_email_template_editor_lists_and_previews_the_follower_tags(app_ctx):
    listed = [tag for tag, _meaning in templates.tags("new_ticket")]
    for tag in ("%%REQUESTER%%", "%%REQUESTER_NAME%%", "%%REQUESTER_FIRST_NAME%%", "%%REQUESTER_EMAIL%%",
                "%%FOLLOWERS%%", "%%FOLLOWER_NAMES%%", "%%FOLLOWER_EMAILS%%"):
        assert tag in listed
    mail = templates.preview("new_ticket", "en", subject="S", body_text="Cc: %%FOLLOWER_EMAILS%%", body_html="")
    assert "Cc: fran@example.com, sam@example.com" in mail.text


def test_follower_tags_in_a_canned_response(app_ctx):
    t = _ticket(followers=[("Fran Follower", "fran@partner.example")])
    text = canned.fill_for_ticket("Hi %%HESK_REQUESTER_FIRST_NAME%% (%%HESK_REQUESTER%%), cc %%HESK_FOLLOWERS%% / "
                                  "%%HESK_FOLLOWER_NAMES%% / %%HESK_FOLLOWER_EMAILS%%", db.session.get(Ticket, t.id))
    assert text == ("Hi Casey (Casey Customer <casey@example.com>), cc Fran Follower <fran@partner.example> / "
                    "Fran Follower / fran@partner.example")
    assert "%%HESK_FOLLOWERS%%" in [tag for tag, _m in canned.TAGS]


# --- mail in: followers from To and Cc ----------------------------------------------------------------

def _own_addresses_and_bans():
    # the help desk's inbound address is the IMAP login here, a second mailbox the POP3 login; a junk
    # address in Cc is banned
    settings.save({"imap_user": "support@helpdesk.example", "pop3_user": "desk-imap@helpdesk.example"})
    bans.ban_email("spammer@junk.example")


def test_to_and_cc_addresses_become_followers_but_never_our_own_or_banned_ones(app_ctx, smtp_server):
    _followers_on(email_include_to=True, email_include_cc=True)
    _own_addresses_and_bans()
    result = import_message(eml("cc_followers"), channel="pipe")
    assert result.action == "created"
    ticket = tickets.get_ticket(result.trackid)
    assert (ticket.name, ticket.email) == ("Paula Requester", "paula@client.example")
    assert _follower_emails(ticket) == ["tom@client.example", "ursula@client.example"]
    names = {c.email: c.name for c in followers.followers_of(ticket)}
    assert names == {"tom@client.example": "Tom Teammate", "ursula@client.example": "Ursula Böhm"}
    assert ticket.follower_count == 2
    # each follower has its history row, by the email channel
    added = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                         TicketEvent.action == "follower_added")).all()
    assert [(e.actor_type, e.data["email"]) for e in added] == [("email", "tom@client.example"),
                                                                ("email", "ursula@client.example")]
    # the confirmation goes to Paula with Tom and Ursula in Cc: nothing to our own addresses
    (mail,) = _deliver(smtp_server, 1)
    assert mail["To"] == "paula@client.example"
    assert _cc(mail) == ["tom@client.example", "ursula@client.example"]


@pytest.mark.parametrize("include_to,include_cc,expected", [
    (False, False, []),
    (True, False, ["tom@client.example"]),
    (False, True, ["ursula@client.example"]),
])
def test_email_include_to_and_email_include_cc_each_decide_for_their_header(app_ctx, include_to, include_cc,
                                                                            expected):
    _followers_on(email_include_to=include_to, email_include_cc=include_cc)
    _own_addresses_and_bans()
    result = import_message(eml("cc_followers"), channel="pipe")
    assert _follower_emails(tickets.get_ticket(result.trackid)) == expected


def test_without_ticket_followers_no_header_adds_any(app_ctx):
    settings.save({"multi_eml": False, "email_include_to": True, "email_include_cc": True})
    _own_addresses_and_bans()
    result = import_message(eml("cc_followers"), channel="pipe")
    assert result.action == "created"
    assert _follower_emails(tickets.get_ticket(result.trackid)) == []
    assert db.session.scalar(select(func.count()).select_from(TicketFollower)) == 0


def test_the_smtp_login_never_becomes_a_follower(app_ctx):
    _followers_on(email_include_to=True, email_include_cc=True)
    settings.save({"smtp_user": "tom@client.example", "imap_user": "support@helpdesk.example"})
    result = import_message(eml("cc_followers"), channel="pipe")
    assert "tom@client.example" not in _follower_emails(tickets.get_ticket(result.trackid))


def test_a_reply_by_email_from_a_follower_goes_into_the_ticket_as_theirs(app_ctx, smtp_server):
    _followers_on(email_include_cc=True)
    t = _ticket(followers=[("Fran Follower", "fran@partner.example")])
    _deliver(smtp_server, 1)
    result = import_message(eml("follower_reply", **{"ABC-DEF-1234": t.trackid}), channel="pipe")
    assert (result.action, result.trackid) == ("replied", t.trackid)
    assert db.session.scalar(select(func.count(Ticket.id))) == 1
    (reply,) = db.session.scalars(select(Reply).where(Reply.ticket_id == t.id)).all()
    fran = db.session.scalar(select(Customer).where(Customer.email == "fran@partner.example"))
    assert (reply.author_type, reply.name, reply.customer_id) == ("customer", "Fran Follower", fran.id)
    assert reply.message.startswith("The fuse is in the drawer") and "Reply above this line" not in reply.message
    # Nina, in Cc of Fran's reply, follows the ticket now; the requester (also in Cc) stays the requester
    assert _follower_emails(t) == ["fran@partner.example", "nina@partner.example"]
    assert db.session.get(Ticket, t.id).email == "casey@example.com"


def test_a_reply_by_threading_alone_from_a_follower_is_recognised(app_ctx, smtp_server):
    t = _ticket(followers=["fran@partner.example"])
    tickets.add_reply(db.session.get(Ticket, t.id), message="Try the fuse.", actor=Actor.staff(_staff()))
    mails = _deliver(smtp_server, 2)
    sent_id = next(m for m in mails if "New reply" in m["Subject"])["Message-ID"].strip("<>")
    raw = eml("follower_reply", **{"Subject: Re: [#ABC-DEF-1234] New reply to: Printer on fire": "Subject: Re: fuse",
                                   "171299.1111.1@helpdesk.example": sent_id})
    result = import_message(raw, channel="pipe")
    assert (result.action, result.trackid) == ("replied", t.trackid)


def test_a_former_follower_or_a_stranger_opens_a_new_ticket_instead(app_ctx):
    t = _ticket(followers=["fran@partner.example"])
    fran = db.session.scalar(select(Customer.id).where(Customer.email == "fran@partner.example"))
    assert tickets.remove_follower(db.session.get(Ticket, t.id), fran, actor=Actor.system()) is True
    result = import_message(eml("follower_reply", **{"ABC-DEF-1234": t.trackid}), channel="pipe")
    assert result.action == "created" and result.trackid != t.trackid
    assert db.session.scalar(select(func.count(Reply.id)).where(Reply.ticket_id == t.id)) == 0


# --- IMAP fetching (a real Dovecot): the mailbox fetched is never a follower ---------------------------

def test_imap_fetching_adds_cc_followers_but_not_the_mailbox_it_fetches(app, runner, mailbox):
    raw = eml("cc_followers", **{"support@helpdesk.example": mailbox.user})
    mailbox.deliver(raw)
    with app.app_context():
        settings.save({**mailbox.imap_settings(), "multi_eml": True, "email_include_to": True,
                       "email_include_cc": True})
        bans.ban_email("spammer@junk.example")
    result = runner.invoke(args=["cron", "--job", "imap"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        (ticket,) = db.session.scalars(select(Ticket)).all()
        emails = _follower_emails(ticket)
        assert emails == ["tom@client.example", "ursula@client.example", "desk-imap@helpdesk.example"]
        assert mailbox.user.lower() not in emails
