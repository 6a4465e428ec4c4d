"""The Team page (/admin/team): the list, create/edit with the password rule and grants, deactivate/activate,
delete after a confirmation, and the team rules (last administrator, oneself, a staff manager grants only
what they have and cannot touch administrators)."""
from __future__ import annotations

import time

from sqlalchemy import select

from admin.security import AUTH_AT
from hesk_py.extensions import db
from hesk_py.models import Ticket, TicketEvent, User
from hesk_py.services import tickets as ticket_service
from tests.admin.ticket_helpers import in_db, logged_in, post

STRONG = "Brand-new-pass9"


def staff_data(**over):
    data = {"name": "Nora New", "email": "nora@example.com", "nickname": "", "username": "nora",
            "password": STRONG, "confirm": STRONG, "role": "staff", "categories": ["1"],
            "features": ["can_view_tickets", "can_reply_tickets"], "autoassign": "y", "signature": "Nora"}
    data.update(over)
    return data


def user_row(app, username):
    def load():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            return None
        return {"id": user.id, "is_admin": user.is_admin, "active": user.active, "cats": user.own_category_ids,
                "feats": user.own_feature_keys, "autoassign": user.autoassign, "signature": user.signature,
                "name": user.name}

    return in_db(app, load)


def assign(app, trackid, owner_id):
    def go():
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        ticket_service.assign(ticket, owner_id, actor=ticket_service.Actor.system(), notify=False)

    in_db(app, go)


# --- the list ---------------------------------------------------------------------------------------

def test_list_shows_active_and_deactivated_staff_with_role_open_tickets_and_2fa(app, admin, make_user, make_ticket):
    worker = make_user("worker", name="Wendy Worker")
    make_user("gone", name="Gary Gone")
    assign(app, make_ticket(), worker)
    assign(app, make_ticket(), worker)

    def setup():
        gone = db.session.scalar(select(User).where(User.username == "gone"))
        gone.active = False
        db.session.get(User, worker).mfa_method = "email"
        db.session.commit()

    in_db(app, setup)
    client = logged_in(app, "admin")
    html = client.get("/admin/team/").get_data(as_text=True)
    active, inactive = html.split('id="inactive-staff"')
    assert "Wendy Worker" in active and "Ada Admin" in active and "Gary Gone" not in active
    assert "Gary Gone" in inactive
    row = active.split(f'id="user-{worker}"')[1].split("</tr>")[0]
    assert 'class="open-count">2<' in row and "Staff" in row and "Codes by email" in row
    admin_row = active.split(f'id="user-{admin}"')[1].split("</tr>")[0]
    assert "Administrator" in admin_row and 'class="open-count">0<' in admin_row


def test_list_runs_the_same_number_of_queries_for_2_or_12_staff(app, admin, make_user, count_queries):
    client = logged_in(app, "admin")
    make_user("first")
    client.get("/admin/team/")
    with app.app_context(), count_queries() as few:
        assert client.get("/admin/team/").status_code == 200
    for i in range(10):
        make_user(f"more{i}")
    client.get("/admin/team/")  # new staff rows change the shared caches' token: let them reload first
    with app.app_context(), count_queries() as many:
        assert client.get("/admin/team/").status_code == 200
    assert few.count == many.count


def test_the_menu_shows_team_only_to_those_allowed(app, admin, make_user):
    make_user("plain", features=["can_view_tickets"])
    make_user("viewer", features=["can_view_users"])
    assert 'href="/admin/team/"' in logged_in(app, "admin").get("/admin/").get_data(as_text=True)
    assert 'href="/admin/team/"' in logged_in(app, "viewer").get("/admin/profile").get_data(as_text=True)
    assert 'href="/admin/team/"' not in logged_in(app, "plain").get("/admin/").get_data(as_text=True)


def test_staff_without_the_feature_get_403(app, admin, make_user):
    make_user("plain", features=["can_view_tickets", "can_man_settings"])
    client = logged_in(app, "plain")
    assert client.get("/admin/team/").status_code == 403
    assert client.get("/admin/team/new").status_code == 403
    assert client.get(f"/admin/team/{admin}/edit").status_code == 403
    assert post(client, "/admin/team/new", staff_data()).status_code == 403
    assert user_row(app, "nora") is None


def test_a_viewer_sees_the_list_but_cannot_change_anything(app, admin, make_user):
    other = make_user("other")
    make_user("viewer", features=["can_view_users"])
    client = logged_in(app, "viewer")
    html = client.get("/admin/team/").get_data(as_text=True)
    assert "Other" in html and f"/admin/team/{other}/edit" not in html and "New staff member" not in html
    assert client.get(f"/admin/team/{other}/edit").status_code == 403
    assert post(client, f"/admin/team/{other}/active", {"active": "0"}).status_code == 403
    assert post(client, f"/admin/team/{other}/delete").status_code == 403
    assert user_row(app, "other")["active"] is True


def test_the_team_is_a_secure_area(app, admin):
    client = logged_in(app, "admin")
    with client.session_transaction() as sess:
        sess[AUTH_AT] = int(time.time()) - 10 * 3600
    resp = client.get("/admin/team/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin/elevator")


# --- create and edit --------------------------------------------------------------------------------

def test_create_staff_with_grants_who_can_then_log_in(app, admin, make_ticket):
    client = logged_in(app, "admin")
    page = client.get("/admin/team/new").get_data(as_text=True)
    assert page.count('name="features"') == 42 and "Manage permission groups" in page
    resp = post(client, "/admin/team/new", staff_data(nickname="Nori", signature="Regards, Nora",
                                                      features=["can_view_tickets", "can_view_unassigned",
                                                                "can_view_ass_others"]),
                token_url="/admin/team/new")
    assert resp.status_code == 303
    row = user_row(app, "nora")
    assert row["is_admin"] is False and row["cats"] == {1}
    assert row["feats"] == {"can_view_tickets", "can_view_unassigned", "can_view_ass_others"}
    assert row["autoassign"] is True and row["signature"] == "Regards, Nora"
    trackid = make_ticket(subject="For Nora to see")
    nora = logged_in(app, "nora", STRONG)
    assert "For Nora to see" in nora.get(f"/admin/tickets/{trackid}").get_data(as_text=True)


def test_bad_input_comes_back_with_what_was_typed_and_messages_beside_the_fields(app, admin, make_user):
    make_user("taken", email="taken@example.com")
    client = logged_in(app, "admin")
    resp = post(client, "/admin/team/new", staff_data(
        name="Typed Name", username="taken", email="not-an-email", password="short", confirm="short",
        nickname="Typed Nick", signature="Typed signature", features=["can_view_tickets", "can_export"]),
        token_url="/admin/team/new")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'value="Typed Name"' in html and 'value="Typed Nick"' in html and "Typed signature" in html
    assert "This username is taken." in html and "Enter a valid email address." in html
    assert "Use at least 8 characters." in html
    assert 'value="can_export" checked' in html and 'value="can_man_users" checked' not in html
    assert 'id="username-error"' in html and 'id="email-error"' in html and 'id="password-error"' in html
    # another account's email, mismatched confirmation
    resp = post(client, "/admin/team/new", staff_data(email="taken@example.com", confirm="Other-pass-99"),
                token_url="/admin/team/new")
    html = resp.get_data(as_text=True)
    assert "Another staff account uses this email address." in html and "The two passwords do not match." in html
    assert user_row(app, "nora") is None


def test_edit_keeps_the_password_when_left_empty_and_changes_grants(app, admin, make_user):
    uid = make_user("edith", features=["can_view_tickets"], category_ids=[1])
    client = logged_in(app, "admin")
    page = client.get(f"/admin/team/{uid}/edit").get_data(as_text=True)
    assert 'value="Edith"' in page and 'value="can_view_tickets" checked' in page
    assert f"/admin/mfa/users/{uid}" in page  # the 2FA reset of this account is linked
    resp = post(client, f"/admin/team/{uid}/edit", staff_data(
        name="Edith Edited", email="edith@example.com", username="edith", password="", confirm="",
        features=["can_view_tickets", "can_export"], autoassign=""), token_url=f"/admin/team/{uid}/edit")
    assert resp.status_code == 303
    row = user_row(app, "edith")
    assert row["name"] == "Edith Edited" and row["feats"] == {"can_view_tickets", "can_export"}
    assert row["autoassign"] is False
    logged_in(app, "edith")  # the old password still works


def test_a_new_password_from_the_team_page_ends_their_sessions(app, admin, make_user):
    uid = make_user("pat")
    pat = logged_in(app, "pat")
    assert pat.get("/admin/profile").status_code == 200
    client = logged_in(app, "admin")
    resp = post(client, f"/admin/team/{uid}/edit", staff_data(
        name="Pat", email="pat@example.com", username="pat", password=STRONG, confirm=STRONG),
        token_url=f"/admin/team/{uid}/edit")
    assert resp.status_code == 303
    assert pat.get("/admin/profile").status_code == 302  # logged out
    logged_in(app, "pat", STRONG)


def test_a_restriction_takes_effect_on_the_next_request(app, admin, make_user, make_ticket):
    features = ["can_view_tickets", "can_view_unassigned", "can_view_ass_others"]
    uid = make_user("limited", features=features, category_ids=[1])
    trackid = make_ticket(subject="Visible until restricted")
    staff = logged_in(app, "limited")
    assert staff.get(f"/admin/tickets/{trackid}").status_code == 200
    client = logged_in(app, "admin")
    resp = post(client, f"/admin/team/{uid}/edit", staff_data(
        name="Limited", email="limited@example.com", username="limited", password="", confirm="",
        features=features, categories=[]), token_url=f"/admin/team/{uid}/edit")
    assert resp.status_code == 303
    assert staff.get(f"/admin/tickets/{trackid}").status_code in (403, 404)
    assert "Visible until restricted" not in staff.get("/admin/").get_data(as_text=True)


def test_promote_to_administrator_and_demote_the_last_one_refused(app, admin, make_user):
    uid = make_user("riser")
    client = logged_in(app, "admin")
    resp = post(client, f"/admin/team/{admin}/edit", staff_data(
        name="Ada Admin", email="admin@example.com", username="admin", password="", confirm="", role="staff"),
        token_url=f"/admin/team/{admin}/edit")
    assert resp.status_code == 400
    assert "This is the last active administrator" in resp.get_data(as_text=True)
    assert user_row(app, "admin")["is_admin"] is True
    resp = post(client, f"/admin/team/{uid}/edit", staff_data(
        name="Riser", email="riser@example.com", username="riser", password="", confirm="", role="admin"),
        token_url=f"/admin/team/{uid}/edit")
    assert resp.status_code == 303 and user_row(app, "riser")["is_admin"] is True
    # with another administrator, demoting oneself is allowed
    resp = post(client, f"/admin/team/{admin}/edit", staff_data(
        name="Ada Admin", email="admin@example.com", username="admin", password="", confirm="", role="staff"),
        token_url=f"/admin/team/{admin}/edit")
    assert resp.status_code == 303 and user_row(app, "admin")["is_admin"] is False


# --- a staff manager -------------------------------------------------------------------------------

MANAGER_FEATURES = ["can_man_users", "can_view_tickets", "can_reply_tickets"]


def test_a_staff_manager_grants_only_what_they_have(app, admin, make_user):
    from hesk_py.models import Category

    def add_category():
        db.session.add(Category(name="Secret dept", sort_order=5, is_public=True, autoassign=False))
        db.session.commit()
        return db.session.scalar(select(Category.id).where(Category.name == "Secret dept"))

    secret = in_db(app, add_category)
    make_user("boss", features=MANAGER_FEATURES, category_ids=[1])
    client = logged_in(app, "boss")
    page = client.get("/admin/team/new").get_data(as_text=True)
    assert 'value="can_export" disabled' in page and f'value="{secret}" disabled' in page
    assert 'name="role"' in page and "Administrator" not in page.split('name="role"')[1].split(">")[0]
    resp = post(client, "/admin/team/new", staff_data(features=["can_view_tickets", "can_export"]),
                token_url="/admin/team/new")
    assert resp.status_code == 400 and "You can only grant what you have yourself." in resp.get_data(as_text=True)
    resp = post(client, "/admin/team/new", staff_data(categories=["1", str(secret)]), token_url="/admin/team/new")
    assert resp.status_code == 400
    resp = post(client, "/admin/team/new", staff_data(role="admin"), token_url="/admin/team/new")
    assert resp.status_code == 400 and "Only administrators can create administrators." in resp.get_data(as_text=True)
    assert user_row(app, "nora") is None
    resp = post(client, "/admin/team/new", staff_data(), token_url="/admin/team/new")
    assert resp.status_code == 303 and user_row(app, "nora")["feats"] == {"can_view_tickets", "can_reply_tickets"}


def test_a_staff_manager_keeps_grants_they_cannot_give_and_cannot_touch_administrators(app, admin, make_user):
    uid = make_user("exporter", features=["can_view_tickets", "can_export"], category_ids=[1])
    make_user("boss", features=MANAGER_FEATURES, category_ids=[1])
    client = logged_in(app, "boss")
    resp = post(client, f"/admin/team/{uid}/edit", staff_data(
        name="Exporter", email="exporter@example.com", username="exporter", password="", confirm="",
        features=["can_reply_tickets"]), token_url=f"/admin/team/{uid}/edit")
    assert resp.status_code == 303
    assert user_row(app, "exporter")["feats"] == {"can_reply_tickets", "can_export"}
    assert client.get(f"/admin/team/{admin}/edit").status_code == 403
    assert post(client, f"/admin/team/{admin}/active", {"active": "0"}).status_code == 403
    assert client.get(f"/admin/team/{admin}/delete").status_code == 403
    assert post(client, f"/admin/team/{admin}/delete").status_code == 403
    assert user_row(app, "admin")["active"] is True


# --- deactivate, activate, delete --------------------------------------------------------------------

def test_deactivating_ends_their_sessions_at_once_and_activating_lets_them_back(app, admin, make_user):
    uid = make_user("leaver")
    leaver = logged_in(app, "leaver")
    assert leaver.get("/admin/profile").status_code == 200
    client = logged_in(app, "admin")
    resp = post(client, f"/admin/team/{uid}/active", {"active": "0"}, token_url="/admin/team/")
    assert resp.status_code == 303 and user_row(app, "leaver")["active"] is False
    resp = leaver.get("/admin/profile")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin/login")
    assert "Leaver" in client.get("/admin/team/").get_data(as_text=True).split('id="inactive-staff"')[1]
    post(client, f"/admin/team/{uid}/active", {"active": "1"}, token_url="/admin/team/")
    assert user_row(app, "leaver")["active"] is True
    logged_in(app, "leaver")


def test_nobody_deactivates_or_deletes_themselves(app, admin, make_user):
    make_user("second", is_admin=True)
    client = logged_in(app, "admin")
    resp = post(client, f"/admin/team/{admin}/active", {"active": "0"}, token_url="/admin/team/")
    assert resp.status_code == 303
    assert "You cannot deactivate your own account." in client.get("/admin/team/").get_data(as_text=True)
    assert "You cannot delete your own account." in client.get(f"/admin/team/{admin}/delete").get_data(as_text=True)
    post(client, f"/admin/team/{admin}/delete", token_url="/admin/team/")
    row = user_row(app, "admin")
    assert row is not None and row["active"] is True


def test_delete_after_a_confirmation_showing_counts_unassigns_open_tickets(app, admin, make_user, make_ticket):
    uid = make_user("owner")
    open_one, open_two, closed = make_ticket(), make_ticket(), make_ticket()
    for trackid in (open_one, open_two, closed):
        assign(app, trackid, uid)

    def close():
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == closed))
        ticket_service.change_status(ticket, 4, actor=ticket_service.Actor.system(), notify=False)

    in_db(app, close)
    client = logged_in(app, "admin")
    page = client.get(f"/admin/team/{uid}/delete").get_data(as_text=True)
    assert "Open tickets that will become unassigned: 2" in page
    assert "Resolved tickets that will have no owner: 1" in page
    resp = post(client, f"/admin/team/{uid}/delete", token_url=f"/admin/team/{uid}/delete")
    assert resp.status_code == 303 and user_row(app, "owner") is None

    def owners():
        rows = db.session.execute(select(Ticket.trackid, Ticket.owner_id)).all()
        events = db.session.scalars(select(TicketEvent.action).join(Ticket)
                                    .where(Ticket.trackid == open_one).order_by(TicketEvent.id)).all()
        return dict(rows), list(events)

    by_track, events = in_db(app, owners)
    assert by_track[open_one] is None and by_track[open_two] is None and by_track[closed] is None
    assert events[-1] == "unassigned"
    assert f'id="user-{uid}"' not in client.get("/admin/team/").get_data(as_text=True)
