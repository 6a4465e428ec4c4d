"""The ticket view (/admin/tickets/<tracking id>) and every action on it, through HTTP as a staff member
would use them: what the page shows, what each POST changes, and the history row it leaves."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Attachment, Note, OutboxMessage, Reply, Ticket, User
from hesk_py.models.workflow import PRIORITY_HIGH, STATUS_IN_PROGRESS, STATUS_REPLIED, STATUS_RESOLVED
from tests.admin.ticket_helpers import act, events, flashes, in_db, logged_in, post, text_of, ticket_row, upload
from tests.conftest import csrf_token_from

ALL_FEATURES = ["can_view_tickets", "can_reply_tickets", "can_del_tickets", "can_edit_tickets",
                "can_merge_tickets", "can_link_tickets", "can_resolve", "can_del_notes", "can_change_cat",
                "can_due_date", "can_add_archive", "can_assign_self", "can_assign_others", "can_view_unassigned",
                "can_view_ass_others", "can_export", "can_ban_emails", "can_ban_ips"]


@pytest.fixture
def admin_client(app, admin):
    return logged_in(app, "admin")


@pytest.fixture
def trackid(make_ticket):
    return make_ticket(name="Iryna Melnyk", email="iryna@example.com", subject="Cannot log in",
                       message="The portal says my password is wrong.\nhttps://portal.example.com/login",
                       ip="192.0.2.44", autoassign=False)


def test_the_view_shows_the_ticket(app, admin_client, trackid):
    resp = admin_client.get(f"/admin/tickets/{trackid}")
    html = text_of(resp)
    assert resp.status_code == 200
    for expected in ("Cannot log in", "Iryna Melnyk", "iryna@example.com", "192.0.2.44", trackid,
                     'name="message"', 'name="attachments"', "Private notes", "Ticket details"):
        assert expected in html
    # links in messages are clickable, nothing else becomes markup
    assert '<a href="https://portal.example.com/login" rel="nofollow noopener noreferrer">' in html
    assert "password is wrong.<br>" in html


def test_customer_text_is_escaped(app, admin_client, make_ticket):
    t = make_ticket(name='<img src=x onerror=alert(1)>', subject="<script>alert(2)</script>",
                    message='"><script>alert(3)</script> https://x.example/"onmouseover="alert(4)')
    html = text_of(admin_client.get(f"/admin/tickets/{t}"))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert 'onmouseover="alert' not in html


def test_reply_with_attachment_status_and_signature(app, admin, admin_client, trackid):
    in_db(app, lambda: (setattr(db.session.get(User, admin), "signature", "Ada from support"),
                        db.session.commit()))
    resp = act(admin_client, trackid, "reply", {
        "message": "Please reset it here.", "status": str(STATUS_IN_PROGRESS), "priority": str(PRIORITY_HIGH),
        "notify": "y", "sign": "y", "time_spent": "0:10:00", "submit": "Submit reply",
    }, files={"attachments": upload("steps.txt", b"1. open\n2. click")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/tickets/{trackid}")
    t = ticket_row(app, trackid)
    assert t.status_id == STATUS_IN_PROGRESS and t.priority_id == PRIORITY_HIGH and t.reply_count == 1
    assert t.time_worked == 600

    def check():
        reply = db.session.scalar(select(Reply).where(Reply.ticket_id == t.id))
        assert reply.message == "Please reset it here.\n\nAda from support"
        att = db.session.scalar(select(Attachment).where(Attachment.reply_id == reply.id))
        assert att.real_name == "steps.txt"
        mails = db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.ticket_id == t.id)).all()
        assert "new_reply_by_staff" in mails
        return att.id

    att_id = in_db(app, check)
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "Your reply was added." in html and "steps.txt" in html
    download = admin_client.get(f"/admin/tickets/{trackid}/attachments/{att_id}")
    assert download.status_code == 200 and download.data == b"1. open\n2. click"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert events(app, trackid)[-4:] == ["priority", "replied", "status", "time_worked"]


def test_bad_reply_comes_back_with_the_text_kept(app, admin_client, trackid):
    resp = act(admin_client, trackid, "reply", {"message": "", "status": str(STATUS_REPLIED), "priority": "0"})
    assert resp.status_code == 400 and "Please write a message." in text_of(resp)
    resp = act(admin_client, trackid, "reply", {"message": "Here is the script", "status": str(STATUS_REPLIED),
                                                "priority": "0"},
               files={"attachments": upload("evil.php", b"<?php system($_GET['c']);")})
    html = text_of(resp)
    assert resp.status_code == 400 and "evil.php" in html and "Here is the script</textarea>" in html
    assert ticket_row(app, trackid).reply_count == 0


def test_reply_or_note_for_a_deleted_ticket_gives_the_text_back(app, admin_client, trackid):
    # the page was open (its CSRF token in hand) when a colleague deleted the ticket
    page_token = csrf_token_from(text_of(admin_client.get(f"/admin/tickets/{trackid}")))
    act(admin_client, trackid, "delete")
    resp = admin_client.post(f"/admin/tickets/{trackid}/reply", data={
        "message": "A long answer <about> printers", "status": "3", "csrf_token": page_token,
        "attachments": upload("steps.txt", b"1. open")}, content_type="multipart/form-data")
    html = text_of(resp)
    assert resp.status_code == 404 and "This ticket no longer exists" in html
    assert f"Ticket {trackid} was deleted" in html and "your reply was not sent" in html
    assert "A long answer &lt;about&gt; printers</textarea>" in html and "steps.txt" in html
    resp = admin_client.post(f"/admin/tickets/{trackid}/notes", data={"message": "Note typed meanwhile",
                                                                     "csrf_token": page_token})
    html = text_of(resp)
    assert resp.status_code == 404 and "your note was not saved" in html and "Note typed meanwhile</textarea>" in html
    # without the page's token: no text comes back (another site cannot make the page show its words)
    resp = admin_client.post(f"/admin/tickets/{trackid}/reply", data={"message": "Injected words"})
    assert resp.status_code == 400 and "Injected words" not in text_of(resp)


def test_oversize_attachment_is_refused_with_the_text_kept(app, admin_client, trackid):
    in_db(app, lambda: settings.save({"attachments.max_size": 1}))  # 1 KB
    resp = act(admin_client, trackid, "reply", {"message": "See the log", "status": str(STATUS_REPLIED),
                                                "priority": "0"},
               files={"attachments": upload("big.txt", b"x" * 5000)})
    html = text_of(resp)
    assert resp.status_code == 400 and "See the log</textarea>" in html
    assert "&#34;big.txt&#34; is too large" in html or '"big.txt" is too large' in html
    resp = act(admin_client, trackid, "notes", {"message": "Log attached"},
               files={"attachments": upload("big.txt", b"x" * 5000)})
    assert resp.status_code == 400 and "Log attached</textarea>" in text_of(resp)
    t = ticket_row(app, trackid)
    assert t.reply_count == 0
    assert in_db(app, lambda: db.session.scalar(select(Note.id).where(Note.ticket_id == t.id))) is None
    # larger than the server takes in one request: a page that says so (the body is never read)
    app.config["MAX_CONTENT_LENGTH"] = 4000
    resp = act(admin_client, trackid, "reply", {"message": "Huge", "status": str(STATUS_REPLIED), "priority": "0"},
               files={"attachments": upload("huge.txt", b"x" * 20000)})
    html = text_of(resp)
    assert resp.status_code == 413 and "Too much sent at once" in html and "Back button" in html
    assert ticket_row(app, trackid).reply_count == 0


def test_stale_draft_is_pointed_out(app, admin, admin_client, trackid):
    act(admin_client, trackid, "reply", {"message": "My draft answer", "status": str(STATUS_REPLIED),
                                         "priority": "0", "save_draft": "Save"})
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "My draft answer</textarea>" in html and "written before the latest reply" not in html

    def customer_writes_again():
        from datetime import timedelta

        from hesk_py.models import ReplyDraft
        from hesk_py.services import tickets as svc

        draft = db.session.scalar(select(ReplyDraft))
        draft.updated_at -= timedelta(minutes=5)  # the draft was saved a while ago
        t = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        svc.add_reply(t, message="Any news?", actor=svc.Actor.customer("Iryna Melnyk"))
        db.session.commit()

    in_db(app, customer_writes_again)
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "Any news?" in html and "My draft answer</textarea>" in html
    assert "This draft was written before the latest reply; check that it still fits." in html


def _set_afterreply(client, value: int):
    resp = post(client, "/admin/profile/preferences", {"afterreply": str(value), "autoreload": "0"})
    assert resp.status_code == 302


def test_after_reply_preference(app, admin, admin_client, make_ticket):
    first, second, third = (make_ticket(subject=f"Ticket {n}", autoassign=False) for n in range(3))
    waiting = make_ticket(subject="Waiting for us", autoassign=False)
    reply = {"message": "Done", "status": str(STATUS_REPLIED), "priority": "0"}
    # 0: back to the ticket (the default)
    resp = act(admin_client, first, "reply", reply)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/tickets/{first}")
    # 1: the ticket list
    _set_afterreply(admin_client, 1)
    resp = act(admin_client, second, "reply", reply)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    # 2: the next ticket that needs my reply (the customer wrote last), else the list with a notice
    _set_afterreply(admin_client, 2)
    resp = act(admin_client, third, "reply", reply)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/tickets/{waiting}")
    resp = act(admin_client, waiting, "reply", reply)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    assert "No other ticket needs your reply." in text_of(admin_client.get(resp.headers["Location"]))


def _add(app, model, **kw):
    def go():
        row = model(**kw)
        db.session.add(row)
        db.session.commit()
        return row.id

    return in_db(app, go)


CANNED_TEXT = ("Dear %%HESK_NAME%% (%%HESK_FIRST_NAME%%),\nticket %%HESK_TRACK_ID%% (#%%HESK_ID%%) "
               "\"%%HESK_SUBJECT%%\" in %%HESK_CATEGORY%%, owner %%HESK_OWNER%%, mail %%HESK_EMAIL%%, "
               "field %%HESK_custom1%%, %%HESK_UNKNOWN%%.\n-- %%HESK_STAFF_NAME%%")


def reply_box(resp) -> str:
    """The text in the reply form's message box, as the browser shows it."""
    found = re.search(r'<textarea[^>]*name="message"[^>]*>(.*?)</textarea>', text_of(resp), re.S)
    assert found, "no reply box"
    return unescape(found.group(1)).replace("\r\n", "\n").removeprefix("\n")


def test_canned_response_picker(app, admin, admin_client, trackid, make_user):
    from hesk_py.models import CannedResponse
    from hesk_py.models.workflow import Category

    canned_id = _add(app, CannedResponse, title="Password help", message=CANNED_TEXT, sort_order=10)
    act(admin_client, trackid, "assign", {"self": "1"})
    t = ticket_row(app, trackid)
    expected = (f"Dear Iryna Melnyk (Iryna),\nticket {trackid} (#{t.id}) \"Cannot log in\" in General, owner Ada "
                f"Admin, mail iryna@example.com, field , %%HESK_UNKNOWN%%.\n-- Ada Admin")
    category = in_db(app, lambda: db.session.get(Category, 1).name)
    expected = expected.replace(" in General,", f" in {category},")
    # the picker is on the reply form
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert 'name="canned"' in html and "Password help" in html
    # with JavaScript: the JSON route fills the tags for this ticket
    resp = admin_client.get(f"/admin/tickets/{trackid}/canned/{canned_id}", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.json["message"] == expected
    assert admin_client.get(f"/admin/tickets/{trackid}/canned/999999").status_code == 404
    # without JavaScript: ?canned=N reloads the page with the filled text in the reply box
    assert reply_box(admin_client.get(f"/admin/tickets/{trackid}?canned={canned_id}")) == expected
    # ... added below a saved draft, not instead of it
    act(admin_client, trackid, "draft", {"message": "Draft first"})
    assert reply_box(admin_client.get(f"/admin/tickets/{trackid}?canned={canned_id}")) == "Draft first\n\n" + expected
    # permissions: staff who may not reply get neither the picker nor the text; staff who cannot see the
    # ticket get a 404 (the same as for a ticket that does not exist)
    make_user("reader", features=["can_view_tickets", "can_view_unassigned", "can_view_ass_others"])
    reader = logged_in(app, "reader")
    assert 'name="canned"' not in text_of(reader.get(f"/admin/tickets/{trackid}"))
    assert reader.get(f"/admin/tickets/{trackid}/canned/{canned_id}").status_code == 403
    assert "Dear Iryna" not in text_of(reader.get(f"/admin/tickets/{trackid}?canned={canned_id}"))
    make_user("elsewhere", features=ALL_FEATURES, category_ids=[])
    elsewhere = logged_in(app, "elsewhere")
    resp = elsewhere.get(f"/admin/tickets/{trackid}/canned/{canned_id}")
    assert resp.status_code == 404 and "Iryna" not in text_of(resp)


def test_canned_custom_field_and_due_date_tags(app, admin, admin_client, make_ticket):
    from hesk_py.models import CannedResponse
    from hesk_py.services import custom_fields

    in_db(app, lambda: (custom_fields.create_field(id=1, type="text", names={"en": "Order number"}),
                        db.session.commit()))
    t = make_ticket(name="Olena", custom={"custom1": "A-1001"})
    canned_id = _add(app, CannedResponse, title="Order", message="Order %%HESK_custom1%% due %%HESK_DUE_DATE%%.",
                     sort_order=10)
    act(admin_client, t, "due-date", {"due_date": "2031-05-04"})
    message = admin_client.get(f"/admin/tickets/{t}/canned/{canned_id}").json["message"]
    assert message.startswith("Order A-1001 due ") and "2031" in message and "%%" not in message


def test_ticket_template_chooser(app, admin, admin_client, make_user):
    from hesk_py.models import TicketTemplate

    tpl = _add(app, TicketTemplate, title="Phone order", subject="Order by phone",
               message="%%HESK_FIRST_NAME%% called to order:\n", sort_order=10)
    plain = _add(app, TicketTemplate, title="Callback", subject="", message="Call back %%HESK_NAME%%.",
                 sort_order=20)
    html = text_of(admin_client.get("/admin/tickets/new"))
    assert 'name="template"' in html and "Phone order" in html and "Callback" in html
    # without JavaScript: ?template=N fills subject and message, keeping what came in the address
    resp = admin_client.get(f"/admin/tickets/new?template={tpl}&name=Oksana+Hnatiuk&email=o@example.com")
    html = text_of(resp)
    assert 'value="Order by phone"' in html and reply_box(resp) == "Oksana called to order:\n"
    assert 'value="Oksana Hnatiuk"' in html
    # no subject of its own: the title is the subject
    resp = admin_client.get(f"/admin/tickets/new?template={plain}&name=Taras")
    assert 'value="Callback"' in text_of(resp) and reply_box(resp) == "Call back Taras."
    # with JavaScript: the JSON route
    resp = admin_client.get(f"/admin/tickets/new/template/{tpl}?name=Iryna+Melnyk")
    assert resp.json == {"subject": "Order by phone", "message": "Iryna called to order:\n"}
    assert admin_client.get("/admin/tickets/new/template/999999").status_code == 404
    # the ticket is created with the template's text
    resp = post(admin_client, "/admin/tickets/new", {
        "name": "Oksana", "email": "o@example.com", "category": "1", "priority": "4", "status": "1", "owner": "",
        "subject": "Order by phone", "message": "Oksana called to order:\n2 printers"},
        token_url=f"/admin/tickets/new?template={tpl}")
    assert resp.status_code == 302
    # staff without ticket rights get nothing
    make_user("nobody", features=[])
    nobody = logged_in(app, "nobody")
    assert nobody.get(f"/admin/tickets/new/template/{tpl}").status_code == 403


def test_save_draft_by_button_and_by_script(app, admin_client, trackid):
    resp = act(admin_client, trackid, "reply", {"message": "Draft text", "status": str(STATUS_REPLIED),
                                                "priority": "0", "save_draft": "Save"})
    assert resp.status_code == 302
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "Draft text</textarea>" in html and "Draft saved" in html
    resp = act(admin_client, trackid, "draft", {"message": "Auto-saved text"},)
    assert resp.status_code == 302
    resp = post(admin_client, f"/admin/tickets/{trackid}/draft", {"message": "Via fetch"},
                token_url=f"/admin/tickets/{trackid}")
    json_resp = admin_client.post(f"/admin/tickets/{trackid}/draft", headers={"Accept": "application/json"},
                                  data={"message": "JSON draft",
                                        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                                                                text_of(admin_client.get(
                                                                    f"/admin/tickets/{trackid}"))).group(1)})
    assert json_resp.status_code == 200 and json_resp.json["saved"] is True
    assert "JSON draft</textarea>" in text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    # the draft goes when the reply is sent
    act(admin_client, trackid, "reply", {"message": "Final", "status": str(STATUS_REPLIED), "priority": "0"})
    assert "JSON draft" not in text_of(admin_client.get(f"/admin/tickets/{trackid}"))


def test_notes_add_edit_delete_with_permissions(app, make_user, admin, admin_client, trackid):
    make_user("helper", features=["can_view_tickets", "can_view_unassigned", "can_reply_tickets"])
    helper = logged_in(app, "helper")
    resp = act(helper, trackid, "notes", {"message": "Called her back"},
               files={"attachments": upload("call.txt", b"notes")})
    assert resp.status_code == 302
    note_id = in_db(app, lambda: db.session.scalar(select(Note.id)))
    assert "Called her back" in text_of(helper.get(f"/admin/tickets/{trackid}"))
    resp = act(helper, trackid, f"notes/{note_id}/edit", {"message": "Called her back twice"})
    assert resp.status_code == 302
    # another staff member without can_del_notes may neither edit nor delete it
    make_user("other", features=["can_view_tickets", "can_view_unassigned"])
    other = logged_in(app, "other")
    assert act(other, trackid, f"notes/{note_id}/edit", {"message": "x"}).status_code == 403
    assert act(other, trackid, f"notes/{note_id}/delete").status_code == 403
    # the admin (can_del_notes) may
    assert act(admin_client, trackid, f"notes/{note_id}/delete").status_code == 302
    assert in_db(app, lambda: db.session.get(Note, note_id)) is None
    assert events(app, trackid)[-3:] == ["note", "note_edited", "note_deleted"]
    assert act(helper, trackid, "notes", {"message": ""}).status_code == 400


def test_edit_message_and_reply_and_delete_reply(app, admin_client, trackid):
    resp = admin_client.get(f"/admin/tickets/{trackid}/edit")
    assert "Cannot log in" in text_of(resp)
    resp = post(admin_client, f"/admin/tickets/{trackid}/edit", {"subject": "Cannot sign in", "message": "Fixed"},
                token_url=f"/admin/tickets/{trackid}/edit")
    assert resp.status_code == 302 and ticket_row(app, trackid).subject == "Cannot sign in"
    act(admin_client, trackid, "reply", {"message": "Try again", "status": "3", "priority": "0"})
    reply_id = in_db(app, lambda: db.session.scalar(select(Reply.id)))
    resp = post(admin_client, f"/admin/tickets/{trackid}/replies/{reply_id}/edit", {"message": "Try again now"},
                token_url=f"/admin/tickets/{trackid}/replies/{reply_id}/edit")
    assert resp.status_code == 302
    assert in_db(app, lambda: db.session.get(Reply, reply_id).message) == "Try again now"
    resp = post(admin_client, f"/admin/tickets/{trackid}/edit", {"subject": "x", "message": ""},
                token_url=f"/admin/tickets/{trackid}/edit")
    assert resp.status_code == 400 and 'value="x"' in text_of(resp)
    assert act(admin_client, trackid, f"replies/{reply_id}/delete").status_code == 302
    assert ticket_row(app, trackid).reply_count == 0
    assert {"edited", "reply_edited", "reply_deleted"} <= set(events(app, trackid))


def test_assign_rules(app, make_user, admin, trackid):
    self_only = make_user("selfie", features=["can_view_tickets", "can_view_unassigned", "can_assign_self"])
    make_user("boss2", features=ALL_FEATURES)
    outsider = make_user("outsider", features=ALL_FEATURES, category_ids=[])
    client = logged_in(app, "selfie")
    # to someone else: refused; to self: fine
    assert act(client, trackid, "assign", {"owner": str(admin)}).status_code == 403
    assert act(client, trackid, "assign", {"self": "1"}).status_code == 302
    assert ticket_row(app, trackid).owner_id == self_only
    # unassign my own ticket: allowed without can_assign_others
    assert act(client, trackid, "assign", {"owner": ""}).status_code == 302
    assert ticket_row(app, trackid).owner_id is None
    boss = logged_in(app, "boss2")
    assert act(boss, trackid, "assign", {"owner": str(self_only)}).status_code == 302
    # a staff member without access to the category cannot take it
    resp = act(boss, trackid, "assign", {"owner": str(outsider)})
    assert "cannot take tickets of this category" in " ".join(flashes(text_of(boss.get(resp.headers["Location"]))))
    assert ticket_row(app, trackid).owner_id == self_only
    assert events(app, trackid).count("assigned") == 2 and "unassigned" in events(app, trackid)
    mails = in_db(app, lambda: db.session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.recipient == "selfie@example.com")).all())
    assert mails == ["ticket_assigned_to_you"]


def test_status_priority_category_with_permissions(app, make_user, admin_client, trackid):
    from hesk_py.models import Category

    in_db(app, lambda: (db.session.add_all([Category(id=2, name="Billing", sort_order=20, default_priority_id=4),
                                           Category(id=3, name="Hidden", sort_order=30, default_priority_id=4)]),
                        db.session.commit()))
    no_resolve = make_user("noresolve", category_ids=[1, 2],
                           features=["can_view_tickets", "can_view_unassigned", "can_reply_tickets",
                                     "can_change_own_cat"])
    assert no_resolve
    client = logged_in(app, "noresolve")
    assert act(client, trackid, "status", {"status": str(STATUS_IN_PROGRESS)}).status_code == 302
    assert act(client, trackid, "status", {"status": str(STATUS_RESOLVED)}).status_code == 403
    assert act(client, trackid, "priority", {"priority": str(PRIORITY_HIGH)}).status_code == 302
    assert act(client, trackid, "category", {"category": "3"}).status_code == 403  # not one of hers
    assert act(client, trackid, "category", {"category": "2"}).status_code == 302
    t = ticket_row(app, trackid)
    assert (t.status_id, t.priority_id, t.category_id) == (STATUS_IN_PROGRESS, PRIORITY_HIGH, 2)
    assert act(admin_client, trackid, "status", {"status": str(STATUS_RESOLVED)}).status_code == 302
    assert ticket_row(app, trackid).status_id == STATUS_RESOLVED
    assert act(admin_client, trackid, "status", {"status": "999"}).status_code == 302  # refused, kept
    assert ticket_row(app, trackid).status_id == STATUS_RESOLVED
    assert events(app, trackid)[1:] == ["status", "priority", "category", "status"]


def test_due_date_time_worked_and_timer(app, admin_client, trackid):
    assert act(admin_client, trackid, "due-date", {"due_date": "2031-05-04"}).status_code == 302
    t = ticket_row(app, trackid)
    assert t.due_date.date().isoformat() == "2031-05-04"
    assert act(admin_client, trackid, "due-date", {"due_date": "not a date"}).status_code == 302
    assert ticket_row(app, trackid).due_date == t.due_date
    assert act(admin_client, trackid, "due-date", {"due_date": "2031-05-04", "remove": "1"}).status_code == 302
    assert ticket_row(app, trackid).due_date is None
    assert act(admin_client, trackid, "time-worked", {"time_worked": "1:30:00"}).status_code == 302
    assert ticket_row(app, trackid).time_worked == 5400
    resp = act(admin_client, trackid, "time-worked", {"time_worked": "ninety"})
    assert "hours:minutes:seconds" in " ".join(flashes(text_of(admin_client.get(resp.headers["Location"]))))
    assert act(admin_client, trackid, "timer", {"do": "start"}).status_code == 302
    assert "Timer running since" in text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert act(admin_client, trackid, "timer", {"do": "stop"}).status_code == 302
    assert "Start timer" in text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert events(app, trackid).count("due_date") == 2


def test_lock_tag_bookmark(app, admin_client, trackid):
    assert act(admin_client, trackid, "lock", {"on": "1"}).status_code == 302
    t = ticket_row(app, trackid)
    assert t.locked and t.status_id == STATUS_RESOLVED
    act(admin_client, trackid, "lock", {"on": "0"})
    act(admin_client, trackid, "tag", {"on": "1"})
    act(admin_client, trackid, "bookmark", {"on": "1"})
    t = ticket_row(app, trackid)
    assert not t.locked and t.tagged
    assert trackid in text_of(admin_client.get("/admin/?view=bookmarks"))
    act(admin_client, trackid, "bookmark", {"on": "0"})
    assert trackid not in text_of(admin_client.get("/admin/?view=bookmarks"))
    assert events(app, trackid)[1:] == ["locked", "status", "unlocked", "tagged"]


def test_link_and_unlink(app, admin_client, trackid, make_ticket):
    other = make_ticket(subject="Related outage")
    number = ticket_row(app, other).id
    assert act(admin_client, trackid, "links", {"other": str(number)}).status_code == 302
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "Related outage" in html
    assert "Cannot log in" in text_of(admin_client.get(f"/admin/tickets/{other}"))
    resp = act(admin_client, trackid, "links", {"other": "AAA-BBB-CCCC"})
    assert "No ticket" in " ".join(flashes(text_of(admin_client.get(resp.headers["Location"]))))
    assert act(admin_client, trackid, f"links/{other}/delete").status_code == 302
    assert "Related outage" not in text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert events(app, other)[-2:] == ["linked", "unlinked"]


def test_delete_ticket_and_its_files(app, admin_client, make_ticket):
    act_ticket = make_ticket()
    act(admin_client, act_ticket, "reply", {"message": "with file", "status": "3", "priority": "0"},
        files={"attachments": upload("f.txt", b"bytes")})
    import os

    folder = app.config["HESK_ATTACHMENTS_DIR"]
    assert [f for f in os.listdir(folder) if not f.startswith(".")]
    resp = act(admin_client, act_ticket, "delete")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    assert ticket_row(app, act_ticket) is None
    assert [f for f in os.listdir(folder) if not f.startswith(".")] == []
    assert admin_client.get(f"/admin/tickets/{act_ticket}").status_code == 404


def test_resend_and_bans(app, admin_client, trackid):
    assert act(admin_client, trackid, "resend").status_code == 302
    assert act(admin_client, trackid, "ban-email").status_code == 302
    assert act(admin_client, trackid, "ban-ip").status_code == 302
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "This email address is banned." in html and "This IP address is banned." in html
    assert events(app, trackid)[-3:] == ["notification_resent", "banned_email", "banned_ip"]


def test_history_print_and_customer_card(app, admin_client, trackid, make_ticket):
    make_ticket(email="iryna@example.com", subject="Second issue")
    act(admin_client, trackid, "priority", {"priority": str(PRIORITY_HIGH)})
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}/history"))
    assert "Ticket created" in html and "Priority changed from Low to High" in html and "Ada Admin" in html
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}/print"))
    assert "Cannot log in" in html and "The portal says" in html and "Private notes" not in html
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "2 tickets from this customer" in html
    html = text_of(admin_client.get("/admin/tickets/customer?email=iryna@example.com"))
    assert "Second issue" in html and trackid in html


def test_merged_tracking_id_redirects(app, admin_client, trackid, make_ticket):
    newer = make_ticket(subject="Duplicate")
    ids = [str(ticket_row(app, trackid).id), str(ticket_row(app, newer).id)]
    resp = post(admin_client, "/admin/tickets/bulk", {"action": "merge", "ids": ids}, token_url="/admin/")
    assert resp.headers["Location"].endswith(f"/admin/tickets/{trackid}")
    resp = admin_client.get(f"/admin/tickets/{newer}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/tickets/{trackid}")


def test_new_ticket_on_a_customers_behalf(app, admin, make_user, admin_client):
    staffer = make_user("taker", features=ALL_FEATURES)
    form = admin_client.get("/admin/tickets/new?name=Oksana&subject=Prefilled&priority=2")
    html = text_of(form)
    assert form.status_code == 200 and 'value="Oksana"' in html and 'value="Prefilled"' in html
    resp = post(admin_client, "/admin/tickets/new", {
        "name": "Oksana Hnatiuk", "email": "oksana@example.com", "category": "1", "priority": "2",
        "status": str(STATUS_IN_PROGRESS), "owner": str(staffer), "subject": "Phone order",
        "message": "Customer called about order 42.", "due_date": "2032-01-15", "show": "y",
    }, token_url="/admin/tickets/new", files={"attachments": upload("order.txt", b"42")})
    assert resp.status_code == 302
    new_trackid = resp.headers["Location"].rsplit("/", 1)[1]

    def check():
        t = db.session.scalar(select(Ticket).where(Ticket.trackid == new_trackid))
        assert (t.owner_id, t.status_id, t.priority_id, t.opened_by, t.ip) == (staffer, STATUS_IN_PROGRESS, 2,
                                                                              "staff", "")
        assert t.due_date.year == 2032
        assert db.session.scalar(select(Attachment.real_name).where(Attachment.ticket_id == t.id)) == "order.txt"
        return set(db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.ticket_id == t.id)))

    # the customer was not to be notified (box unticked); the new owner is
    assert in_db(app, check) == {"ticket_assigned_to_you"}
    resp = post(admin_client, "/admin/tickets/new", {"name": "", "email": "bad", "category": "1", "priority": "2",
                                                     "status": "1", "owner": "", "subject": "Kept subject",
                                                     "message": "Kept message"}, token_url="/admin/tickets/new")
    html = text_of(resp)
    assert resp.status_code == 400 and "Kept message</textarea>" in html and 'value="Kept subject"' in html


def test_new_ticket_auto_assign_and_notify(app, admin, admin_client):
    resp = post(admin_client, "/admin/tickets/new", {
        "name": "Taras", "email": "taras@example.com", "category": "1", "priority": "4", "status": "1",
        "owner": "auto", "subject": "Auto", "message": "Please assign", "notify": "y", "show": "y",
    }, token_url="/admin/tickets/new")
    trackid = resp.headers["Location"].rsplit("/", 1)[1]
    t = ticket_row(app, trackid)
    assert t.owner_id == admin and t.autoassigned
    mails = in_db(app, lambda: db.session.scalars(select(OutboxMessage.template).where(
        OutboxMessage.ticket_id == t.id)).all())
    assert "new_ticket" in mails
