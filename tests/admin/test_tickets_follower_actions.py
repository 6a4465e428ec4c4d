"""The followers (Cc) of a ticket wherever staff meet the ticket's customers: "Ban this email" and "Mute this
email" for each follower in the customer block (the requester's own buttons and permissions,
``can_ban_emails`` / ``can_mute_emails``; a muted follower gets no more mail, received over SMTP), the
Followers column of the CSV export, the staff print view, and the customer card ("tickets from this
customer") listing the tickets an address follows, marked as followed."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import BannedEmail, Customer, MutedEmail
from hesk_py.models.workflow import STATUS_REPLIED
from hesk_py.services import bans, mailer, tickets
from tests.admin.ticket_helpers import act, flashes, in_db, logged_in, post, text_of
from tests.conftest import STAFF_PASSWORD

FRAN, NINA, CASEY = "fran@partner.example", "nina@partner.example", "casey@example.com"


@pytest.fixture
def boss(app, admin):
    with app.app_context():
        settings.save({"multi_eml": True})
    return logged_in(app, "admin")


def _followed(app, make_ticket, **kw) -> str:
    trackid = make_ticket(**kw)
    in_db(app, lambda: tickets.add_followers(tickets.get_ticket(trackid), [("Fran Follower", FRAN), NINA],
                                             actor=tickets.Actor.system()))
    return trackid


def _id(app, email) -> int:
    return in_db(app, lambda: db.session.scalar(select(Customer.id).where(Customer.email == email)))


def _block(client, trackid) -> str:
    html = text_of(client.get(f"/admin/tickets/{trackid}"))
    block = html[html.index('class="card customer-card"'):]
    return block[:block.index("</section>")]


def _item(block: str, email: str) -> str:
    """The follower's entry of the customer block."""
    match = re.search(rf'<li>(?:(?!</li>).)*?>{re.escape(email)}</a>.*?</li>', block, re.S)
    assert match, email
    return match.group(0)


def _listed(app, model) -> list[str]:
    return in_db(app, lambda: sorted(db.session.scalars(select(model.email))))


def _deliver(app, smtp_server) -> list:
    before = len(smtp_server.messages)
    sent = in_db(app, lambda: mailer.deliver_due()["sent"])
    return smtp_server.wait_for(before + sent)[before:]


# --- ban and mute a follower ----------------------------------------------------------------------------

def test_each_follower_has_ban_and_mute_buttons_and_a_muted_follower_gets_no_more_mail(app, boss, make_ticket,
                                                                                        smtp_server):
    trackid = _followed(app, make_ticket)
    _deliver(app, smtp_server)  # the "ticket received" mail
    fran, nina = _id(app, FRAN), _id(app, NINA)
    block = _block(boss, trackid)
    for cid, email in ((fran, FRAN), (nina, NINA)):
        item = _item(block, email)
        assert f'action="/admin/tickets/{trackid}/ban-email/{cid}"' in item and "Ban this email" in item
        assert f'action="/admin/tickets/{trackid}/mute-email/{cid}"' in item and "Mute this email" in item
    # the requester's buttons: ban, and now mute too
    assert f'action="/admin/tickets/{trackid}/ban-email"' in block
    assert f'action="/admin/tickets/{trackid}/mute-email"' in block

    resp = act(boss, trackid, f"mute-email/{fran}")
    assert resp.status_code == 302
    page = boss.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"The email address {FRAN} is muted: the help desk sends it no email." in flashes(page)
    assert _listed(app, MutedEmail) == [FRAN]
    block = _block(boss, trackid)
    assert "This email address is muted." in _item(block, FRAN) and "Mute this email" not in _item(block, FRAN)
    assert "Mute this email" in _item(block, NINA)
    history = text_of(boss.get(f"/admin/tickets/{trackid}/history"))
    assert f"Muted the email address {FRAN}" in history

    # the next reply: the requester in To, Nina in Cc, nothing for Fran
    resp = act(boss, trackid, "reply", {"message": "Try the fuse.", "status": str(STATUS_REPLIED), "priority": "0",
                                        "notify": "y", "submit": "Submit reply"})
    assert resp.status_code == 302
    (mail,) = _deliver(app, smtp_server)
    assert mail["To"] == CASEY and mail["Cc"] == NINA
    assert FRAN not in smtp_server.envelopes[-1].rcpt_tos

    # banning Nina: she may no longer submit tickets; the requester is untouched
    resp = act(boss, trackid, f"ban-email/{nina}")
    assert f"The email address {NINA} is banned." in flashes(boss.get(resp.headers["Location"]).get_data(as_text=True))
    assert _listed(app, BannedEmail) == [NINA]
    assert in_db(app, lambda: bans.is_email_banned(NINA) and not bans.is_email_banned(CASEY))
    assert "This email address is banned." in _item(_block(boss, trackid), NINA)
    # twice: said so, nothing new
    resp = act(boss, trackid, f"mute-email/{fran}")
    assert f"{FRAN} was already muted." in flashes(boss.get(resp.headers["Location"]).get_data(as_text=True))
    assert _listed(app, MutedEmail) == [FRAN]


def test_only_a_follower_of_this_ticket_can_be_banned_through_it(app, boss, make_ticket):
    trackid = _followed(app, make_ticket)
    make_ticket(email="someone@example.com", subject="Someone else's ticket")
    stranger = _id(app, "someone@example.com")
    for action in ("ban-email", "mute-email"):
        resp = act(boss, trackid, f"{action}/{stranger}")
        assert resp.status_code == 302
        assert "This customer does not follow this ticket." in flashes(
            boss.get(resp.headers["Location"]).get_data(as_text=True))
    assert _listed(app, BannedEmail) == [] and _listed(app, MutedEmail) == []


def test_muting_the_requester_leaves_the_followers_mail(app, boss, make_ticket, smtp_server):
    trackid = _followed(app, make_ticket)
    _deliver(app, smtp_server)
    resp = act(boss, trackid, "mute-email")
    assert resp.status_code == 302 and _listed(app, MutedEmail) == [CASEY]
    assert "This email address is muted." in _block(boss, trackid).split('<ul class="followers">')[0]
    act(boss, trackid, "reply", {"message": "Try the fuse.", "status": str(STATUS_REPLIED), "priority": "0",
                                 "notify": "y", "submit": "Submit reply"})
    (mail,) = _deliver(app, smtp_server)
    assert mail["To"] == FRAN and mail["Cc"] == NINA and CASEY not in smtp_server.envelopes[-1].rcpt_tos


def test_the_buttons_follow_can_ban_emails_and_can_mute_emails(app, admin, make_user, make_ticket):
    with app.app_context():
        settings.save({"multi_eml": True})
    trackid = _followed(app, make_ticket, autoassign=False)
    fran = _id(app, FRAN)
    base = ["can_view_tickets", "can_reply_tickets", "can_view_unassigned"]
    make_user("plain", features=base, category_ids=[1])
    make_user("muter", features=base + ["can_mute_emails"], category_ids=[1])
    plain, muter = logged_in(app, "plain", STAFF_PASSWORD), logged_in(app, "muter", STAFF_PASSWORD)
    block = _block(plain, trackid)
    assert "Ban this email" not in block and "Mute this email" not in block
    for action in (f"ban-email/{fran}", f"mute-email/{fran}", "mute-email"):
        assert act(plain, trackid, action).status_code == 403, action
    item = _item(_block(muter, trackid), FRAN)
    assert "Mute this email" in item and "Ban this email" not in item
    assert act(muter, trackid, f"ban-email/{fran}").status_code == 403
    assert act(muter, trackid, f"mute-email/{fran}").status_code == 302
    assert _listed(app, BannedEmail) == [] and _listed(app, MutedEmail) == [FRAN]
    # only by POST with the page's token
    assert plain.get(f"/admin/tickets/{trackid}/mute-email/{fran}").status_code == 405
    assert muter.post(f"/admin/tickets/{trackid}/mute-email/{fran}", data={}).status_code == 400


# --- export, print, the customer card --------------------------------------------------------------------

def test_the_csv_export_has_a_followers_column(app, boss, make_ticket):
    followed = _followed(app, make_ticket, subject="With followers")
    make_ticket(subject="Without followers")
    resp = boss.get("/admin/tickets/export")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-1] == "Followers" and rows[0][7] == "Subject"
    by_subject = {r[7]: r for r in rows[1:]}
    assert by_subject["With followers"][-1] == f"Fran Follower <{FRAN}>, {NINA}"
    assert by_subject["Without followers"][-1] == ""
    # the bulk "Export selected" too
    ids = in_db(app, lambda: [str(tickets.get_ticket(followed).id)])
    exported = post(boss, "/admin/tickets/bulk", {"action": "export", "ids": ids}, token_url="/admin/")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[-1] for r in rows[1:]] == [f"Fran Follower <{FRAN}>, {NINA}"]


def test_the_print_view_lists_the_followers(app, boss, make_ticket):
    from html import unescape

    trackid = _followed(app, make_ticket)
    plain = make_ticket(subject="Nobody in copy")
    printed = " ".join(unescape(re.sub(r"<[^>]+>", " ", text_of(boss.get(f"/admin/tickets/{trackid}/print")))).split())
    assert f"Followers (Cc) Fran Follower <{FRAN}>, {NINA}" in printed
    assert "Followers (Cc)" not in text_of(boss.get(f"/admin/tickets/{plain}/print"))


def test_the_customer_card_lists_the_tickets_an_address_follows_marked(app, boss, make_ticket):
    followed = _followed(app, make_ticket, subject="Casey's printer")
    own = make_ticket(email=FRAN, name="Fran Follower", subject="Fran's own question")
    make_ticket(email="someone@example.com", subject="Not Fran's")
    html = text_of(boss.get(f"/admin/tickets/customer?email={FRAN}"))
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr>\s*<td><a href="[^"]*">([A-Z0-9-]+)</a>.*?</tr>',
                                                        html, re.S)}
    assert set(rows) == {followed, own}
    assert "Followed" in rows[followed] and "Followed" not in rows[own]
    assert "All: 2" in re.sub(r"<[^>]+>", "", html)
    # the requester's card: the ticket is theirs, not followed
    html = text_of(boss.get(f"/admin/tickets/customer?email={CASEY}"))
    assert followed in html and ">Followed<" not in html
