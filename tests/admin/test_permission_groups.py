"""Permission groups (/admin/team/groups): named sets of categories and features whose members get the union
of their own grants and the group's; create, edit, copy, delete (only when empty)."""
from __future__ import annotations

from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Category, Group, User, UserGroup
from tests.admin.test_team import staff_data
from tests.admin.ticket_helpers import in_db, logged_in, post

VIEW = ["can_view_tickets", "can_view_unassigned", "can_view_ass_others"]


def add_category(app, name):
    def go():
        db.session.add(Category(name=name, sort_order=9, is_public=True, autoassign=False,
                                default_priority_id=db.session.get(Category, 1).default_priority_id))
        db.session.commit()
        return db.session.scalar(select(Category.id).where(Category.name == name))

    return in_db(app, go)


def group_row(app, name):
    def load():
        group = db.session.scalar(select(Group).where(Group.name == name))
        if group is None:
            return None
        return {"id": group.id, "cats": group.category_ids, "feats": group.feature_keys,
                "description": group.description}

    return in_db(app, load)


def join(app, username, group_id):
    def go():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        db.session.add(UserGroup(user_id=uid, group_id=group_id))
        db.session.commit()

    in_db(app, go)


def create_group(client, **data):
    form = {"name": "Billing team", "description": "", "categories": [], "features": []}
    form.update(data)
    return post(client, "/admin/team/groups/new", form, token_url="/admin/team/groups/new")


def test_create_and_edit_a_group(app, admin):
    billing = add_category(app, "Billing")
    client = logged_in(app, "admin")
    page = client.get("/admin/team/groups/new").get_data(as_text=True)
    assert page.count('name="features"') == 42 and "Billing" in page
    resp = create_group(client, description="Invoices", categories=[str(billing)], features=["can_export"])
    assert resp.status_code == 303
    row = group_row(app, "Billing team")
    assert row == {"id": row["id"], "cats": {billing}, "feats": {"can_export"}, "description": "Invoices"}
    assert "Billing team" in client.get("/admin/team/groups/").get_data(as_text=True)
    url = f"/admin/team/groups/{row['id']}/edit"
    assert 'value="can_export" checked' in client.get(url).get_data(as_text=True)
    resp = post(client, url, {"name": "Billing", "description": "", "categories": ["1"],
                              "features": ["can_reply_tickets"]}, token_url=url)
    assert resp.status_code == 303
    assert group_row(app, "Billing")["cats"] == {1} and group_row(app, "Billing")["feats"] == {"can_reply_tickets"}


def test_bad_input_is_kept_beside_the_fields(app, admin):
    client = logged_in(app, "admin")
    assert create_group(client).status_code == 303
    resp = create_group(client, name="billing TEAM", description="Typed description", features=["can_export"])
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Another group has this name." in html and 'id="name-error"' in html
    assert 'value="Typed description"' in html and 'value="can_export" checked' in html
    resp = create_group(client, name="  ", features=["can_fly"])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Enter a name." in html and "Unknown permissions: can_fly" in html


def test_members_get_the_union_of_their_own_and_their_groups_grants(app, admin, make_user, make_ticket):
    billing = add_category(app, "Billing")
    make_user("member", features=["can_view_tickets"], category_ids=[1])
    own = make_ticket(subject="In my own category")
    theirs = make_ticket(subject="In the group category", category_id=billing)
    staff = logged_in(app, "member")
    assert staff.get(f"/admin/tickets/{theirs}").status_code == 404
    client = logged_in(app, "admin")
    create_group(client, categories=[str(billing)], features=["can_view_unassigned", "can_view_ass_others"])
    group_id = group_row(app, "Billing team")["id"]
    join(app, "member", group_id)
    # the next request of the logged-in member already has the group's grants
    listing = staff.get("/admin/").get_data(as_text=True)
    assert "In my own category" in listing and "In the group category" in listing
    assert staff.get(f"/admin/tickets/{theirs}").status_code == 200
    assert staff.get(f"/admin/tickets/{own}").status_code == 200
    # taken out of the group on the team page: refused at the next request
    uid = in_db(app, lambda: db.session.scalar(select(User.id).where(User.username == "member")))
    resp = post(client, f"/admin/team/{uid}/edit", staff_data(
        name="Member", email="member@example.com", username="member", password="", confirm="",
        features=["can_view_tickets"], groups=[]), token_url=f"/admin/team/{uid}/edit")
    assert resp.status_code == 303
    assert staff.get(f"/admin/tickets/{theirs}").status_code == 404


def test_group_members_ticket_list_query_count_does_not_grow(app, admin, make_user, make_ticket, count_queries):
    make_user("member", features=["can_view_tickets"], category_ids=[])
    client = logged_in(app, "admin")
    create_group(client, categories=["1"], features=VIEW)
    join(app, "member", group_row(app, "Billing team")["id"])
    staff = logged_in(app, "member")
    make_ticket()
    staff.get("/admin/")
    with app.app_context(), count_queries() as few:
        assert staff.get("/admin/").status_code == 200
    for i in range(15):
        make_ticket(subject=f"More {i}")
    with app.app_context(), count_queries() as many:
        html = staff.get("/admin/").get_data(as_text=True)
    assert "More 14" in html and few.count == many.count


def test_join_a_group_from_the_team_page(app, admin):
    client = logged_in(app, "admin")
    create_group(client, features=["can_export"])
    group_id = group_row(app, "Billing team")["id"]
    resp = post(client, "/admin/team/new", staff_data(groups=[str(group_id)]), token_url="/admin/team/new")
    assert resp.status_code == 303
    members = in_db(app, lambda: db.session.scalars(select(UserGroup.group_id)).all())
    assert members == [group_id]
    assert 'class="member-count">1<' in client.get("/admin/team/groups/").get_data(as_text=True)


def test_copy_a_group(app, admin):
    client = logged_in(app, "admin")
    create_group(client, categories=["1"], features=["can_export", "can_resolve"])
    group_id = group_row(app, "Billing team")["id"]
    resp = post(client, f"/admin/team/groups/{group_id}/copy", token_url="/admin/team/groups/")
    assert resp.status_code == 303
    copy = group_row(app, "Billing team (copy)")
    assert copy["cats"] == {1} and copy["feats"] == {"can_export", "can_resolve"} and copy["id"] != group_id
    post(client, f"/admin/team/groups/{group_id}/copy", token_url="/admin/team/groups/")
    assert group_row(app, "Billing team (copy 2)") is not None


def test_delete_only_when_empty_else_refused_with_the_count(app, admin, make_user):
    client = logged_in(app, "admin")
    create_group(client, features=["can_export"])
    group_id = group_row(app, "Billing team")["id"]
    make_user("one")
    make_user("two")
    join(app, "one", group_id)
    join(app, "two", group_id)
    resp = post(client, f"/admin/team/groups/{group_id}/delete", token_url="/admin/team/groups/")
    assert resp.status_code == 303
    html = client.get("/admin/team/groups/").get_data(as_text=True)
    assert "has 2 members and cannot be deleted" in html
    assert group_row(app, "Billing team") is not None

    def empty():
        db.session.execute(UserGroup.__table__.delete())
        db.session.commit()

    in_db(app, empty)
    post(client, f"/admin/team/groups/{group_id}/delete", token_url="/admin/team/groups/")
    assert group_row(app, "Billing team") is None


def test_staff_without_the_feature_get_403(app, admin, make_user):
    make_user("plain", features=["can_view_tickets", "can_man_users"])
    client = logged_in(app, "admin")
    create_group(client)
    group_id = group_row(app, "Billing team")["id"]
    staff = logged_in(app, "plain")
    assert 'href="/admin/team/groups/"' not in staff.get("/admin/team/").get_data(as_text=True)
    assert staff.get("/admin/team/groups/").status_code == 403
    assert staff.get("/admin/team/groups/new").status_code == 403
    assert staff.get(f"/admin/team/groups/{group_id}/edit").status_code == 403
    token_page = "/admin/team/"
    assert post(staff, f"/admin/team/groups/{group_id}/delete", token_url=token_page).status_code == 403
    assert post(staff, f"/admin/team/groups/{group_id}/copy", token_url=token_page).status_code == 403
    assert post(staff, "/admin/team/groups/new", {"name": "Sneaky"}, token_url=token_page).status_code == 403
    assert group_row(app, "Billing team") is not None and group_row(app, "Sneaky") is None


def test_a_non_admin_grants_only_what_they_have(app, admin, make_user):
    make_user("grouper", features=["can_man_permission_groups", "can_man_users", "can_view_tickets"],
              category_ids=[1])
    client = logged_in(app, "admin")
    create_group(client, name="Powerful", features=["can_export"])
    powerful = group_row(app, "Powerful")["id"]
    staff = logged_in(app, "grouper")
    resp = create_group(staff, name="Mine", features=["can_view_tickets", "can_export"])
    assert resp.status_code == 400 and "You can only grant what you have yourself." in resp.get_data(as_text=True)
    assert group_row(app, "Mine") is None
    assert create_group(staff, name="Mine", categories=["1"], features=["can_view_tickets"]).status_code == 303
    # a group that gives more than they have: shown disabled, cannot be given through the team page
    assert f'value="{powerful}" disabled' in staff.get("/admin/team/new").get_data(as_text=True)
    resp = post(staff, "/admin/team/new", staff_data(features=["can_view_tickets"], groups=[str(powerful)]),
                token_url="/admin/team/new")
    assert resp.status_code == 400 and in_db(app, lambda: db.session.scalars(select(UserGroup)).all()) == []


def test_auto_assign_counts_grants_from_groups(app, admin, make_user, make_ticket):
    """A staff member whose category and features come only from a group is a candidate for auto-assign."""
    from hesk_py.models import Ticket

    billing = add_category(app, "Billing")
    uid = make_user("member", features=[], category_ids=[])

    def setup():
        category = db.session.get(Category, billing)
        category.autoassign = True
        category.autoassign_config = {"mode": "only", "users": [uid]}
        db.session.commit()

    in_db(app, setup)
    client = logged_in(app, "admin")
    create_group(client, categories=[str(billing)], features=["can_view_tickets", "can_reply_tickets"])
    first = make_ticket(category_id=billing)
    owner = lambda trackid: in_db(app, lambda: db.session.scalar(  # noqa: E731
        select(Ticket.owner_id).where(Ticket.trackid == trackid)))
    assert owner(first) is None  # not yet a member: nobody qualifies
    join(app, "member", group_row(app, "Billing team")["id"])
    assert owner(make_ticket(category_id=billing)) == uid


def test_a_group_member_is_offered_as_owner(app, admin, make_user, make_ticket):
    """Someone who may work on tickets only through a group appears in the ticket view's owner choices."""
    make_user("grouped", name="Grace Grouped", category_ids=[], features=[])
    ticket = make_ticket()
    client = logged_in(app, "admin")
    assert create_group(client, categories=["1"], features=["can_view_tickets"]).status_code == 303
    url = f"/admin/tickets/{ticket}"
    assert "Grace Grouped" not in client.get(url).get_data(as_text=True)
    join(app, "grouped", group_row(app, "Billing team")["id"])
    assert ">Grace Grouped</option>" in client.get(url).get_data(as_text=True)
