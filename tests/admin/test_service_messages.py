"""Staff manage service messages at /admin/service_messages (``can_service_msg``); customers see the
published ones on the home page."""
from __future__ import annotations

from hesk_py.extensions import db
from hesk_py.models import ServiceMessage
from tests.conftest import csrf_token_from
from tests.public.conftest import text_of

URL = "/admin/service_messages"


def _new(client, **fields):
    token = csrf_token_from(client.get(f"{URL}/new").get_data(as_text=True))
    data = {"csrf_token": token, "title": "Planned maintenance", "message": "Down on Sunday 02:00-04:00.",
            "format": "plain", "style": "notice", "language": "", "published": "y"}
    data.update(fields)
    resp = client.post(f"{URL}/new", data={k: v for k, v in data.items() if v is not None})
    if resp.status_code == 303:
        assert "saved" in text_of(client.get(resp.headers["Location"]).get_data(as_text=True))  # the flash
    return resp


def _ids(app):
    with app.app_context():
        return [m.id for m in db.session.scalars(
            db.select(ServiceMessage).order_by(ServiceMessage.sort_order, ServiceMessage.id))]


def test_create_edit_move_delete(app, client, make_user, login):
    make_user("notices", features=["can_service_msg"])
    login("notices")
    assert 'href="/admin/service_messages"' in client.get("/admin/profile").get_data(as_text=True)  # menu link

    resp = _new(client)
    assert resp.status_code == 303
    page = client.get(URL).get_data(as_text=True)
    assert "Planned maintenance" in page and "Published" in text_of(page)
    assert "Down on Sunday 02:00-04:00." in text_of(client.get("/").get_data(as_text=True))

    assert _new(client, title="New phone number", published=None).status_code == 303  # a draft
    assert "New phone number" not in text_of(client.get("/").get_data(as_text=True))
    first, second = _ids(app)

    # edit: the draft is published, in Markdown
    edit_url = f"{URL}/{second}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    assert 'value="New phone number"' in page
    resp = client.post(edit_url, data={"csrf_token": csrf_token_from(page), "title": "New phone number",
                                       "message": "Call **+1 555 0100**.", "format": "markdown",
                                       "style": "info", "language": "", "published": "y"})
    assert resp.status_code == 303
    client.get(URL)  # reads the flash
    home = client.get("/").get_data(as_text=True)
    assert "<strong>+1 555 0100</strong>" in home
    assert home.index("Planned maintenance") < home.index("New phone number")

    # move the second one up
    token = csrf_token_from(client.get(URL).get_data(as_text=True))
    assert client.post(f"{URL}/{second}/move", data={"csrf_token": token, "direction": "up"}).status_code == 303
    assert _ids(app) == [second, first]
    home = client.get("/").get_data(as_text=True)
    assert home.index("New phone number") < home.index("Planned maintenance")

    # delete
    assert client.post(f"{URL}/{first}/delete", data={"csrf_token": token}).status_code == 303
    assert "Service message deleted." in client.get(URL).get_data(as_text=True)
    assert _ids(app) == [second]
    assert "Planned maintenance" not in text_of(client.get("/").get_data(as_text=True))


def test_bad_input_comes_back_as_typed(app, client, admin, login):
    login()
    resp = _new(client, title="", message="Kept <b>as typed</b>", style="purple")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Type a title for the message." in page and "Choose a style." in page
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;</textarea>" in page
    resp = _new(client, title="A title\nwith a break", message="x", language="xx")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Choose a language." in page
    assert _ids(app) == []  # nothing half-written


def test_post_without_csrf_token_changes_nothing(app, client, admin, login):
    login()
    assert _new(client).status_code == 303
    (msg_id,) = _ids(app)
    assert client.post(f"{URL}/{msg_id}/delete").status_code == 400
    assert _ids(app) == [msg_id]


def test_staff_without_the_feature_get_403(app, client, admin, make_user, login):
    login()
    _new(client)
    (msg_id,) = _ids(app)
    client.post("/admin/logout", data={"csrf_token": csrf_token_from(client.get("/admin/profile").get_data(as_text=True))})
    make_user("answerer", features=["can_view_tickets", "can_reply_tickets"], category_ids=[1])
    login("answerer")
    token = csrf_token_from(client.get("/admin/profile").get_data(as_text=True))
    assert 'href="/admin/service_messages"' not in client.get("/admin/profile").get_data(as_text=True)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}/new").status_code == 403
    assert client.get(f"{URL}/{msg_id}/edit").status_code == 403
    assert client.post(f"{URL}/new", data={"csrf_token": token, "title": "x", "message": "y", "style": "info",
                                           "format": "plain"}).status_code == 403
    assert client.post(f"{URL}/{msg_id}/delete", data={"csrf_token": token}).status_code == 403
    assert client.post(f"{URL}/{msg_id}/move", data={"csrf_token": token, "direction": "up"}).status_code == 403
    assert _ids(app) == [msg_id]
    anonymous = app.test_client()
    resp = anonymous.get(URL)
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
