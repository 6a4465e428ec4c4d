"""Staff actions of the ticket service: each one changes the ticket, writes its history row and queues its
mail in one transaction. Also the staff member's own state (bookmarks, drafts, viewers) and the
visibility rule."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import (
    Attachment,
    BannedEmail,
    BannedIP,
    Note,
    OutboxMessage,
    Reply,
    ReplyDraft,
    Ticket,
    TicketAlias,
    TicketBookmark,
    TicketEvent,
    TicketLink,
    TicketTimer,
    TicketViewer,
    User,
)
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import (
    PRIORITY_HIGH,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    STATUS_REPLIED,
    STATUS_RESOLVED,
    STATUS_WAITING_REPLY,
)
from hesk_py.services import ticket_access, ticket_work
from hesk_py.services import tickets as svc
from hesk_py.services.bans import InvalidBan, is_email_banned, is_ip_banned
from hesk_py.services.errors import InvalidTicketData, TicketNotFound
from hesk_py.services.tickets import Actor


def _att(name="file.txt"):
    return {"saved_name": secrets.token_hex(24), "real_name": name, "size": 10, "content_type": "text/plain"}


def _ticket(**kw):
    data = dict(name="Petro Bondar", email="petro@example.com", subject="VPN does not connect",
                message="Since the update the VPN client fails.", category_id=1,
                actor=Actor.customer("Petro Bondar"), ip="198.51.100.23", autoassign=False)
    data.update(kw)
    return svc.create_ticket(**data)


def _events(ticket) -> list[str]:
    return list(db.session.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id)
                                   .order_by(TicketEvent.id)))


def _outbox(ticket) -> list[tuple[str, str]]:
    return [(m.template, m.recipient) for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id))]


@pytest.fixture
def staff(app_ctx, make_user):
    uid = make_user("olga", name="Olga Staff", features=["can_view_tickets", "can_reply_tickets",
                                                            "can_assign_self", "can_view_unassigned"])
    user = db.session.get(User, uid)
    user.signature = "-- Olga, support team"
    db.session.commit()
    return user


# --- reply ------------------------------------------------------------------------------------------

def test_staff_reply_assigns_changes_priority_signs_and_drops_the_draft_in_one_go(staff):
    t = _ticket()
    ticket_work.save_draft(t, staff, "half-written")
    reply = svc.staff_reply(t, user=staff, message="Please reinstall the client.", sign=True, assign_self=True,
                            priority_id=PRIORITY_HIGH, status_id=STATUS_IN_PROGRESS)
    db.session.expire_all()
    t = db.session.get(Ticket, t.id)
    assert reply.message.endswith("-- Olga, support team")
    assert t.owner_id == staff.id and t.priority_id == PRIORITY_HIGH and t.status_id == STATUS_IN_PROGRESS
    assert t.reply_count == 1 and t.staff_reply_count == 1 and t.last_replier == "staff"
    assert ticket_work.get_draft(t, staff) is None
    assert _events(t)[1:] == ["assigned", "priority", "replied", "status"]
    assert ("new_reply_by_staff", "petro@example.com") in _outbox(t)


def test_staff_reply_without_notification_queues_no_mail(staff):
    t = _ticket(notify_customer=False)
    before = _outbox(t)
    svc.staff_reply(t, user=staff, message="Internal fix done.", notify=False)
    assert _outbox(t) == before
    assert not any(recipient == "petro@example.com" for _tpl, recipient in before)


def test_a_failing_reply_rolls_back_the_assignment_too(staff):
    t = _ticket()
    with pytest.raises(InvalidTicketData):
        svc.staff_reply(t, user=staff, message="x", assign_self=True, status_id=999)
    db.session.expire_all()
    t = db.session.get(Ticket, t.id)
    assert t.owner_id is None and t.reply_count == 0
    assert _events(t) == ["created"]


def test_empty_reply_is_refused(staff):
    t = _ticket()
    with pytest.raises(InvalidTicketData) as exc:
        svc.staff_reply(t, user=staff, message="   ")
    assert "message" in exc.value.errors


def test_reply_entered_on_the_customers_behalf(staff):
    t = _ticket()
    svc.staff_reply(t, user=staff, message="Customer called: still broken.", as_customer=True)
    db.session.expire_all()
    t = db.session.get(Ticket, t.id)
    reply = db.session.scalar(select(Reply).where(Reply.ticket_id == t.id))
    assert reply.author_type == "customer" and reply.name == "Petro Bondar"
    assert t.status_id == STATUS_WAITING_REPLY and t.last_replier == "customer"
    assert "customer_reply_entered" in _events(t)


# --- edit and delete posts ----------------------------------------------------------------------------

def test_edit_message_and_reply_write_history(staff):
    t = _ticket()
    svc.edit_message(t, subject="VPN fails after update", message="Corrected text", actor=Actor.staff(staff))
    r = svc.staff_reply(t, user=staff, message="Tpyo")
    svc.edit_reply(r, message="Typo fixed", actor=Actor.staff(staff))
    db.session.expire_all()
    t = db.session.get(Ticket, t.id)
    assert (t.subject, t.message) == ("VPN fails after update", "Corrected text")
    assert db.session.get(Reply, r.id).message == "Typo fixed"
    assert "edited" in _events(t) and "reply_edited" in _events(t)
    with pytest.raises(InvalidTicketData):
        svc.edit_message(t, subject="a\nb", message="x", actor=Actor.staff(staff))
    with pytest.raises(InvalidTicketData):
        svc.edit_reply(db.session.get(Reply, r.id), message="", actor=Actor.staff(staff))


def test_delete_reply_recounts_and_returns_its_files(staff):
    t = _ticket()
    first = svc.staff_reply(t, user=staff, message="First", attachments=[_att("log.txt")])
    svc.add_reply(t, message="Customer answer", actor=Actor.customer("Petro Bondar"))
    files = svc.delete_reply(db.session.get(Reply, first.id), actor=Actor.staff(staff))
    db.session.expire_all()
    t = db.session.get(Ticket, t.id)
    assert len(files) == 1
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert t.reply_count == 1 and t.staff_reply_count == 0 and t.first_reply_at is None
    assert t.last_replier == "customer"
    assert "reply_deleted" in _events(t)


def test_edit_and_delete_note(staff):
    t = _ticket()
    note = svc.add_note(t, message="Check the firewall", actor=Actor.staff(staff), attachments=[_att()])
    svc.edit_note(note, message="Checked the firewall", actor=Actor.staff(staff))
    assert db.session.get(Note, note.id).updated_at is not None
    files = svc.delete_note(db.session.get(Note, note.id), actor=Actor.staff(staff))
    assert len(files) == 1 and db.session.get(Note, note.id) is None
    assert _events(t)[-3:] == ["note", "note_edited", "note_deleted"]


# --- flags, dates, time ---------------------------------------------------------------------------------

def test_lock_resolves_and_unlock_keeps_the_status(staff):
    t = _ticket()
    svc.set_locked(t, True, actor=Actor.staff(staff))
    assert t.locked and t.status_id == STATUS_RESOLVED and t.resolved_at is not None
    svc.set_locked(t, False, actor=Actor.staff(staff))
    assert not t.locked and t.status_id == STATUS_RESOLVED
    assert _events(t)[1:] == ["locked", "status", "unlocked"]
    svc.set_locked(t, False, actor=Actor.staff(staff))  # no change, no history
    assert len(_events(t)) == 4


def test_tag_and_untag(staff):
    t = _ticket()
    svc.set_tagged(t, True, actor=Actor.staff(staff))
    svc.set_tagged(t, False, actor=Actor.staff(staff))
    assert _events(t)[1:] == ["tagged", "untagged"] and not t.tagged


def test_due_date_set_and_removed(staff):
    t = _ticket()
    t.overdue_email_sent = True
    db.session.commit()
    due = utcnow().replace(microsecond=0) + timedelta(days=3)
    svc.set_due_date(t, due, actor=Actor.staff(staff))
    assert t.due_date == due and t.overdue_email_sent is False
    svc.set_due_date(t, None, actor=Actor.staff(staff))
    assert t.due_date is None
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                          TicketEvent.action == "due_date")).all()
    assert [e.data["new"] is None for e in events] == [False, True]


def test_time_worked_manual_and_timer(staff):
    t = _ticket()
    svc.set_time_worked(t, 3600, actor=Actor.staff(staff))
    assert t.time_worked == 3600
    with pytest.raises(InvalidTicketData):
        svc.set_time_worked(t, -5, actor=Actor.staff(staff))
    svc.start_timer(t, user=staff)
    svc.start_timer(t, user=staff)  # already running: one timer
    assert db.session.scalar(select(func.count()).select_from(TicketTimer)) == 1
    timer = db.session.get(TicketTimer, (t.id, staff.id))
    timer.started_at = utcnow() - timedelta(minutes=25)
    db.session.commit()
    added = svc.stop_timer(t, user=staff)
    assert 25 * 60 <= added <= 25 * 60 + 5
    assert t.time_worked == 3600 + added
    assert svc.timer_started_at(t, staff) is None
    assert svc.stop_timer(t, user=staff) == 0
    assert _events(t).count("time_worked") == 2


# --- links and merge ----------------------------------------------------------------------------------

def test_link_and_unlink_both_ways(staff):
    a, b = _ticket(), _ticket(subject="Second")
    svc.link_tickets(a, b, actor=Actor.staff(staff))
    svc.link_tickets(b, a, actor=Actor.staff(staff))  # already linked: nothing new
    assert [x.id for x in svc.linked_tickets(a)] == [b.id]
    assert [x.id for x in svc.linked_tickets(b)] == [a.id]
    assert _events(a).count("linked") == 1 and _events(b).count("linked") == 1
    with pytest.raises(InvalidTicketData):
        svc.link_tickets(a, a, actor=Actor.staff(staff))
    svc.unlink_tickets(b, a, actor=Actor.staff(staff))
    assert svc.linked_tickets(a) == [] and svc.linked_tickets(b) == []
    assert "unlinked" in _events(a) and "unlinked" in _events(b)


def test_merge_keeps_the_oldest_and_moves_everything(staff, make_user):
    other_staff = db.session.get(User, make_user("ivan"))
    oldest = _ticket(subject="Printer jam", attachments=[_att("photo.png")])
    middle = _ticket(subject="Printer still jammed", email="petro.b@example.com",
                     attachments=[_att("second.png")])
    newest = _ticket(subject="Third")
    unrelated = _ticket(subject="Unrelated")
    svc.staff_reply(middle, user=staff, message="Reply on the middle one", attachments=[_att("r.txt")])
    svc.add_note(newest, message="Note on the newest", actor=Actor.staff(staff), attachments=[_att("n.txt")])
    svc.set_time_worked(middle, 600, actor=Actor.staff(staff))
    svc.set_time_worked(newest, 300, actor=Actor.staff(staff))
    svc.set_time_worked(oldest, 60, actor=Actor.staff(staff))
    ticket_work.set_bookmark(newest, other_staff, True)
    svc.link_tickets(middle, unrelated, actor=Actor.staff(staff))
    middle_trackid, newest_trackid = middle.trackid, newest.trackid
    ids = (oldest.id, middle.id, newest.id)

    kept = svc.merge_tickets([newest, oldest, middle], actor=Actor.staff(staff))  # any order: the oldest wins
    db.session.expire_all()
    kept = db.session.get(Ticket, kept.id)
    assert kept.id == ids[0]
    assert db.session.get(Ticket, ids[1]) is None and db.session.get(Ticket, ids[2]) is None
    replies = db.session.scalars(select(Reply).where(Reply.ticket_id == kept.id)
                                 .order_by(Reply.created_at, Reply.id)).all()
    # the two merged messages became customer replies, plus the staff reply
    assert sorted(r.message for r in replies) == sorted([
        "Since the update the VPN client fails.", "Since the update the VPN client fails.",
        "Reply on the middle one"])
    assert kept.reply_count == 3 and kept.staff_reply_count == 1
    notes = db.session.scalars(select(Note).where(Note.ticket_id == kept.id)).all()
    assert [n.message for n in notes] == ["Note on the newest"]
    files = {a.real_name: a for a in db.session.scalars(select(Attachment).where(Attachment.ticket_id == kept.id))}
    assert set(files) == {"photo.png", "second.png", "r.txt", "n.txt"}
    assert files["photo.png"].reply_id is None  # still the kept ticket's own message's file
    assert files["second.png"].reply_id is not None  # the merged message's file, now on its reply
    assert files["n.txt"].note_id == notes[0].id
    assert kept.time_worked == 960
    assert kept.merged_ids == [middle_trackid, newest_trackid]
    # the old tracking IDs keep working, for staff and for the customer
    assert svc.get_ticket(middle_trackid).id == kept.id
    assert svc.get_ticket(newest_trackid, email="petro@example.com").id == kept.id
    assert ticket_access.find_visible(staff, newest_trackid).id == kept.id
    # history of the merged tickets moved over, and the merge itself is recorded
    events = _events(kept)
    assert events[-1] == "merged" and events.count("created") == 3
    # bookmarks and links carried over
    assert db.session.get(TicketBookmark, (other_staff.id, kept.id)) is not None
    assert [t.id for t in svc.linked_tickets(kept)] == [unrelated.id]
    assert [t.id for t in svc.linked_tickets(db.session.get(Ticket, unrelated.id))] == [kept.id]


def test_merging_twice_keeps_every_old_id(staff):
    a, b, c = _ticket(), _ticket(), _ticket()
    b_id, c_id = b.trackid, c.trackid
    svc.merge_tickets([b, c], actor=Actor.staff(staff))
    kept = svc.merge_tickets([a, db.session.get(Ticket, b.id)], actor=Actor.staff(staff))
    assert set(kept.merged_ids) == {b_id, c_id}
    assert svc.get_ticket(c_id).id == a.id == svc.get_ticket(b_id).id
    assert db.session.scalar(select(func.count()).select_from(TicketAlias)) == 2


def test_merge_needs_two_tickets(staff):
    t = _ticket()
    with pytest.raises(InvalidTicketData):
        svc.merge_tickets([t, t], actor=Actor.staff(staff))


# --- delete, resend, ban ----------------------------------------------------------------------------------

def test_delete_ticket_removes_everything_and_returns_files(staff):
    t = _ticket(attachments=[_att()])
    svc.staff_reply(t, user=staff, message="x", attachments=[_att()])
    svc.add_note(t, message="n", actor=Actor.staff(staff))
    ticket_work.set_bookmark(t, staff, True)
    ticket_work.save_draft(t, staff, "draft")
    tid, trackid = t.id, t.trackid
    files = svc.delete_ticket(t, actor=Actor.staff(staff))
    assert len(files) == 2
    for model in (Reply, Note, Attachment, TicketEvent, TicketBookmark, ReplyDraft):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
    with pytest.raises(TicketNotFound):
        svc.get_ticket(trackid)
    # queued mail survives without its ticket (the FK sets NULL)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.ticket_id == tid)) == 0


def test_resend_notification(staff):
    t = _ticket()
    assert svc.resend_notification(t, actor=Actor.staff(staff)) == "new_ticket"
    svc.staff_reply(t, user=staff, message="Answer")
    assert svc.resend_notification(t, actor=Actor.staff(staff)) == "new_reply_by_staff"
    to_customer = [tpl for tpl, recipient in _outbox(t) if recipient == "petro@example.com"]
    assert to_customer == ["new_ticket", "new_ticket", "new_reply_by_staff", "new_reply_by_staff"]
    assert _events(t).count("notification_resent") == 2
    no_email = _ticket(email="", notify_customer=False, require_email=False)
    assert svc.resend_notification(no_email, actor=Actor.staff(staff)) is None


def test_ban_email_and_ip_from_a_ticket(staff):
    t = _ticket()
    assert svc.ban_ticket_email(t, actor=Actor.staff(staff)) is True
    assert svc.ban_ticket_email(t, actor=Actor.staff(staff)) is False
    assert is_email_banned("PETRO@example.com")
    assert svc.ban_ticket_ip(t, actor=Actor.staff(staff)) is True
    assert is_ip_banned("198.51.100.23") and not is_ip_banned("198.51.100.24")
    assert db.session.scalar(select(func.count()).select_from(BannedEmail)) == 1
    assert db.session.scalar(select(func.count()).select_from(BannedIP)) == 1
    assert _events(t)[-2:] == ["banned_email", "banned_ip"]
    with pytest.raises(InvalidBan):
        svc.ban_ticket_ip(_ticket(ip=""), actor=Actor.staff(staff))


# --- the staff member's own state -------------------------------------------------------------------

def test_bookmarks_and_drafts(staff):
    t = _ticket()
    ticket_work.set_bookmark(t, staff, True)
    ticket_work.set_bookmark(t, staff, True)
    assert ticket_work.is_bookmarked(t, staff)
    ticket_work.set_bookmark(t, staff, False)
    assert not ticket_work.is_bookmarked(t, staff)
    draft = ticket_work.save_draft(t, staff, "Dear Petro,")
    assert draft.message == "Dear Petro," and not ticket_work.draft_is_stale(draft, t)
    draft.updated_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    svc.add_reply(t, message="Any news?", actor=Actor.customer("Petro Bondar"))
    assert ticket_work.draft_is_stale(ticket_work.get_draft(t, staff), t)
    assert ticket_work.save_draft(t, staff, "  ") is None and ticket_work.get_draft(t, staff) is None


def test_viewers_are_recorded_and_expire(staff, make_user):
    other = db.session.get(User, make_user("ivan", name="Ivan"))
    t = _ticket()
    ticket_work.mark_viewing(t, staff)
    ticket_work.mark_viewing(t, other)
    assert [v.name for v in ticket_work.other_viewers(t, staff)] == ["Ivan"]
    assert ticket_work.other_viewers(t, other)[0].name == "Olga Staff"
    row = db.session.get(TicketViewer, (t.id, other.id))
    row.seen_at = utcnow() - ticket_work.VIEWING_WINDOW - timedelta(seconds=1)
    db.session.commit()
    assert ticket_work.other_viewers(t, staff) == []
    last = ticket_work.last_reply_id(t)
    reply = svc.add_reply(t, message="hello", actor=Actor.customer("Petro Bondar"))
    assert [r.id for r in ticket_work.replies_since(t, last)] == [reply.id]


# --- who sees what ----------------------------------------------------------------------------------

def test_visibility_rule(app_ctx, make_user):
    from hesk_py.models import Category

    db.session.add(Category(id=2, name="Billing", sort_order=20, default_priority_id=4))
    db.session.commit()
    # accounts first: on SQLite a transaction of this session would hold the lock make_user needs
    ids = dict(
        mine_only=make_user("mine", features=["can_view_tickets"], category_ids=[1]),
        unassigned=make_user("unass", features=["can_view_tickets", "can_view_unassigned"], category_ids=[1]),
        others=make_user("others", features=["can_view_tickets", "can_view_ass_others"], category_ids=[1]),
        by_me=make_user("byme", features=["can_view_tickets", "can_view_ass_by"], category_ids=[1]),
        no_view=make_user("noview", features=[], category_ids=[1, 2]),
        admin=make_user("boss", is_admin=True),
    )
    mine_only, unassigned, others, by_me, no_view, admin = (db.session.get(User, ids[k]) for k in ids)
    t_unassigned = _ticket()
    t_mine = _ticket()
    svc.assign(t_mine, mine_only.id, actor=Actor.system())
    t_others = _ticket()
    svc.assign(t_others, others.id, actor=Actor.staff(by_me))
    t_billing = _ticket(category_id=2)

    def seen(user):
        return {t.id for t in db.session.scalars(ticket_access.visible_tickets_query(user)).unique()}

    assert seen(mine_only) == {t_mine.id}
    assert seen(unassigned) == {t_unassigned.id}
    assert seen(others) == {t_mine.id, t_others.id}
    assert seen(by_me) == {t_others.id}
    assert seen(no_view) == set()
    assert seen(admin) == {t_unassigned.id, t_mine.id, t_others.id, t_billing.id}
    with pytest.raises(TicketNotFound):
        ticket_access.find_visible(mine_only, t_billing.trackid)
    assert ticket_access.visible_by_ids(unassigned, [t_unassigned.id, t_billing.id, t_mine.id]) == [t_unassigned]
