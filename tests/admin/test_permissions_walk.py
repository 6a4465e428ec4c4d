"""Every admin route checks login and the specific permission (issue 5, reference/PEERS.md §4.6).

The walk takes the routes from ``app.url_map``, so routes added later are walked without touching this
file. URL parameters get plausible values: the tracking ID or id of a real ticket, of its reply, note and
attachment, of a colleague. Each route is requested with each of its methods (POSTs carry a valid CSRF
token, so the permission check itself is what answers):

- anonymous: a redirect to the login page, and none of the planted data in the answer;
- a staff member without any permission or category: 403 or 404 and none of the planted data, except
  the login pages and the pages about one's own account (``SELF_SERVICE``), which may answer but must not
  show the planted data either.

A new admin route without a check fails it; ``test_the_walk_catches_an_unchecked_route`` proves that.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from werkzeug.routing import IntegerConverter

from admin.security import PUBLIC_ENDPOINTS
from hesk_py.extensions import db
from tests.conftest import STAFF_PASSWORD, csrf_token_from

# The pages about the logged-in user's own account: every staff member may use them.
SELF_SERVICE = {
    "admin.auth.logout",
    "admin.auth.elevator",
    "admin.profile.index",
    "admin.profile.update",
    "admin.profile.password",
    "admin.profile.preferences",
    "admin.profile.sessions",
    "admin.mfa.index",
    "admin.mfa.app_start",
    "admin.mfa.app",
    "admin.mfa.email_start",
    "admin.mfa.email",
    "admin.mfa.backup_codes",
    "admin.mfa.disable",
    "admin.display.css",  # the panel's setting-driven stylesheet: every page of every staff member loads it
}

SECRET_SUBJECT = "Walk-secret-subject-Q7Z"
SECRET_MESSAGE = "Walk-secret-message-Q7Z"
SECRET_CUSTOMER = "walk-secret-customer@example.org"
SECRET_REPLY = "Walk-secret-reply-Q7Z"
SECRET_NOTE = "Walk-secret-note-Q7Z"
SECRET_FILE = "Walk-secret-file-content-Q7Z"
SECRET_COLLEAGUE = "walk-secret-colleague@example.org"
SECRETS = (SECRET_SUBJECT, SECRET_MESSAGE, SECRET_CUSTOMER, SECRET_REPLY, SECRET_NOTE, SECRET_FILE,
           SECRET_COLLEAGUE)


@dataclass
class World:
    trackid: str
    other_trackid: str
    ticket_id: int
    reply_id: int
    note_id: int
    attachment_id: int
    colleague_id: int

    def value_for(self, name: str, converter) -> object:
        """A plausible value for a URL parameter, by its name and type."""
        if isinstance(converter, IntegerConverter):
            return {
                "user_id": self.colleague_id, "staff_id": self.colleague_id, "owner_id": self.colleague_id,
                "reply_id": self.reply_id, "note_id": self.note_id, "attachment_id": self.attachment_id,
                "file_id": self.attachment_id, "ticket_id": self.ticket_id, "id": self.ticket_id,
                "num": self.ticket_id,
            }.get(name, self.ticket_id)
        return {
            "other": self.other_trackid, "other_trackid": self.other_trackid, "token": "x" * 43,
            "protocol": "smtp", "tab": "general",
        }.get(name, self.trackid)


def build_world(app, make_user, make_ticket) -> World:
    from hesk_py.models import Note, Reply, Ticket, User
    from hesk_py.services import attachments, tickets

    colleague = make_user("colleague", email=SECRET_COLLEAGUE, is_admin=True, name="Colleague Walker")
    trackid = make_ticket(subject=SECRET_SUBJECT, message=SECRET_MESSAGE, email=SECRET_CUSTOMER,
                          name="Walk Customer")
    other = make_ticket(subject=SECRET_SUBJECT + " two", email=SECRET_CUSTOMER)
    with app.app_context():
        ticket = db.session.query(Ticket).filter_by(trackid=trackid).one()
        user = db.session.get(User, colleague)
        actor = tickets.Actor.staff(user)
        tickets.assign(ticket, colleague, actor=actor, notify=False)
        saved = attachments.store([attachments.Upload(
            real_name="walk-secret.txt", extension=".txt", size=len(SECRET_FILE), content_type="text/plain",
            stream=io.BytesIO(SECRET_FILE.encode()))])
        tickets.add_reply(ticket, message=SECRET_REPLY, actor=actor, attachments=saved)
        tickets.add_note(ticket, message=SECRET_NOTE, actor=actor)
        db.session.commit()
        reply = db.session.query(Reply).filter_by(ticket_id=ticket.id).one()
        note = db.session.query(Note).filter_by(ticket_id=ticket.id).one()
        return World(trackid=trackid, other_trackid=other, ticket_id=ticket.id, reply_id=reply.id,
                     note_id=note.id, attachment_id=reply.attachments[0].id, colleague_id=colleague)


def admin_routes(app) -> list[tuple[str, str, object]]:
    """(endpoint, method, rule) for every admin route and method, from the URL map."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule))
    return sorted(routes, key=lambda r: (r[0], r[1]))


def url_of(app, rule, method, world: World) -> str:
    values = {name: world.value_for(name, conv) for name, conv in rule._converters.items()}
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


class Crashed:
    """What a view that raised answers (in tests exceptions reach the client): a 500 with the error."""

    def __init__(self, exc: Exception):
        self.status_code = 500
        self.headers = {}
        self.error = f"{type(exc).__name__}: {exc}"

    def get_data(self):
        return b""


def request(client, method, url, token):
    try:
        if method == "GET":
            return client.get(url)
        return client.open(url, method=method, data={"csrf_token": token})
    except Exception as exc:  # one broken view must not hide the others' results
        return Crashed(exc)


def leaked(resp) -> list[str]:
    body = resp.get_data().decode("utf-8", "replace")
    return [s for s in SECRETS if s in body]


def fresh_login(app, username, password):
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    resp = client.post("/admin/login", data={"username": username, "password": password,
                                              "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 302, f"login as {username}: {resp.status_code}"
    token = csrf_token_from(client.get("/admin/profile").get_data(as_text=True))
    return client, token


def walk(app, world: World) -> list[str]:
    """Every problem found, one line each."""
    problems: list[str] = []
    routes = admin_routes(app)
    assert len(routes) > 20, "the URL map has fewer admin routes than the login and profile pages alone"

    anonymous = app.test_client()
    anon_token = csrf_token_from(anonymous.get("/admin/login").get_data(as_text=True))
    for endpoint, method, rule in routes:
        url = url_of(app, rule, method, world)
        resp = request(anonymous, method, url, anon_token)
        where = f"anonymous {method} {url} ({endpoint})"
        if leaked(resp):
            problems.append(f"{where}: shows {leaked(resp)}")
        if resp.status_code >= 500:
            problems.append(f"{where}: answered {resp.status_code} {getattr(resp, 'error', '')}")
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        if resp.status_code != 302 or not resp.headers["Location"].startswith("/admin/login"):
            problems.append(f"{where}: answered {resp.status_code} "
                            f"{resp.headers.get('Location', '')}, not a redirect to the login page")

    own = SELF_SERVICE | PUBLIC_ENDPOINTS

    def as_staff(client, csrf_token, endpoint, method, rule):
        url = url_of(app, rule, method, world)
        resp = request(client, method, url, csrf_token)
        where = f"staff without rights {method} {url} ({endpoint})"
        if leaked(resp):
            problems.append(f"{where}: shows {leaked(resp)}")
        if resp.status_code >= 500:
            problems.append(f"{where}: answered {resp.status_code} {getattr(resp, 'error', '')}")
        if endpoint not in own and resp.status_code not in (403, 404):
            problems.append(f"{where}: answered {resp.status_code}, not 403 or 404")

    staff, token = fresh_login(app, "norights", STAFF_PASSWORD)
    for endpoint, method, rule in routes:
        if not (endpoint in own and method != "GET"):
            as_staff(staff, token, endpoint, method, rule)
    # the walker was logged in all along (a 403 to a logged-out client would prove nothing)
    assert staff.get("/admin/profile").status_code == 200, "the walker was logged out"
    # own-account actions may end sessions (log out, log out my other sessions): each from a fresh browser
    for endpoint, method, rule in routes:
        if endpoint in own and method != "GET":
            as_staff(*fresh_login(app, "norights", STAFF_PASSWORD), endpoint, method, rule)
    return problems


@pytest.fixture
def world(app, make_user, make_ticket):
    make_user("norights", features=[], category_ids=[])
    return build_world(app, make_user, make_ticket)


def test_every_admin_route_checks_login_and_permission(app, world):
    problems = walk(app, world)
    assert not problems, "\n".join(problems)


# URL parameters that name the planted ticket or something on it
TICKET_PARAMS = {"trackid", "other", "other_trackid", "ticket_id", "id", "num", "reply_id", "note_id",
                 "attachment_id", "file_id"}
# what only someone with access to the ticket's category may see (a colleague's or a customer's address
# may show on team or customer pages to those allowed to manage them)
TICKET_SECRETS = (SECRET_SUBJECT, SECRET_MESSAGE, SECRET_REPLY, SECRET_NOTE, SECRET_FILE)


def test_staff_of_another_category_never_reach_the_ticket(app, world, make_user):
    """Every permission, but not the ticket's category: each route that names the ticket answers 403 or
    404, and no page (lists, search, export, knowledgebase import...) shows the ticket's content."""
    from hesk_py.models import Category
    from hesk_py.services.permissions import FEATURES

    with app.app_context():
        elsewhere = Category(name="Elsewhere", sort_order=2, is_public=True, autoassign=False)
        db.session.add(elsewhere)
        db.session.commit()
        category_id = elsewhere.id
    make_user("elsewhere", features=list(FEATURES), category_ids=[category_id])
    client, token = fresh_login(app, "elsewhere", STAFF_PASSWORD)
    problems = []
    for endpoint, method, rule in admin_routes(app):
        names_ticket = bool(set(rule.arguments) & TICKET_PARAMS)
        if method != "GET" and not names_ticket:
            continue  # changes that do not name the ticket cannot reach it; the walk above covers them
        url = url_of(app, rule, method, world)
        resp = request(client, method, url, token)
        where = f"staff of another category {method} {url} ({endpoint})"
        body = resp.get_data().decode("utf-8", "replace")
        shown = [secret for secret in TICKET_SECRETS if secret in body]
        if shown:
            problems.append(f"{where}: shows {shown}")
        if resp.status_code >= 500:
            problems.append(f"{where}: answered {resp.status_code} {getattr(resp, 'error', '')}")
        if names_ticket and resp.status_code not in (403, 404):
            problems.append(f"{where}: answered {resp.status_code}, not 403 or 404")
    assert client.get("/admin/profile").status_code == 200, "the walker was logged out"
    assert not problems, "\n".join(problems)


def test_the_planted_data_is_visible_to_someone_allowed(app, world):
    """The walk's secrets are real: the colleague who owns the ticket sees them on the ticket page."""
    client, _token = fresh_login(app, "colleague", STAFF_PASSWORD)
    body = client.get(f"/admin/tickets/{world.trackid}").get_data(as_text=True)
    for secret in (SECRET_SUBJECT, SECRET_MESSAGE, SECRET_CUSTOMER, SECRET_REPLY, SECRET_NOTE):
        assert secret in body


def test_the_walk_catches_an_unchecked_route(app, make_user, make_ticket):
    """A route added under the admin blueprint without a permission check is reported."""
    from hesk_py.models import Ticket

    def leaky(trackid):
        ticket = db.session.query(Ticket).filter_by(trackid=trackid).one()
        return f"{ticket.subject} {ticket.message}"

    def leaky_post():
        return "done"

    app.add_url_rule("/admin/walk-probe/<trackid>", endpoint="admin.walk_probe", view_func=leaky)
    app.add_url_rule("/admin/walk-probe-action", endpoint="admin.walk_probe_action", view_func=leaky_post,
                     methods=["POST"])
    make_user("norights", features=[], category_ids=[])
    problems = walk(app, build_world(app, make_user, make_ticket))
    probe = [p for p in problems if "walk_probe" in p]
    assert any("staff without rights GET" in p and SECRET_SUBJECT in p for p in probe), problems
    assert any("staff without rights POST" in p and "not 403 or 404" in p for p in probe), problems
    # anonymous visitors are turned away by the blueprint's login guard, even on the probe
    assert not [p for p in probe if p.startswith("anonymous")]
