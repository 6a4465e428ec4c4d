"""The home page, the language picker, maintenance mode and knowledgebase-only mode."""
from __future__ import annotations

from hesk_py import settings
from tests.public.conftest import hidden_fields, text_of


def _has_rule(app, path):
    return any(rule.rule == path for rule in app.url_map.iter_rules())


def test_home_offers_submit_and_view(app, client):
    with app.app_context():
        settings.save({"hesk_title": "Acme <Support>"})
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<h1>Acme &lt;Support&gt;</h1>" in html
    assert 'href="/submit_ticket"' in html and 'href="/ticket"' in html
    assert "Acme &lt;Support&gt;</title>" in html


def test_knowledgebase_search_only_when_a_knowledgebase_exists(app, client):
    with app.app_context():
        settings.save({"kb_enable": 0})
    assert 'role="search"' not in client.get("/").get_data(as_text=True)
    with app.app_context():
        settings.save({"kb_enable": 1})
    shown = 'role="search"' in client.get("/").get_data(as_text=True)
    assert shown == _has_rule(app, "/knowledgebase/search")


def test_no_language_picker_unless_customers_may_choose(app, client):
    assert 'action="/language"' not in client.get("/").get_data(as_text=True)
    html = client.get("/").get_data(as_text=True)
    resp = client.post("/language", data={"csrf_token": hidden_fields(html).get("csrf_token", ""), "language": "uk"})
    assert resp.status_code in (302, 400)
    assert client.get_cookie("hesk_language") is None


def test_the_language_picker_sets_a_cookie(app, client):
    with app.app_context():
        settings.save({"can_sel_lang": True})
    html = client.get("/ticket").get_data(as_text=True)
    assert 'action="/language"' in html
    fields = hidden_fields(html)
    assert fields["next"] == "/ticket"
    resp = client.post("/language", data={**fields, "language": "uk"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/ticket"
    cookie = client.get_cookie("hesk_language")
    assert cookie is not None and cookie.value == "uk"
    assert '<html lang="uk"' in client.get("/").get_data(as_text=True)
    # only local paths as the way back
    resp = client.post("/language", data={**fields, "language": "en", "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/"
    resp = client.post("/language", data={**fields, "language": "xx"})
    assert client.get_cookie("hesk_language").value == "en"  # an unknown language changes nothing


def test_maintenance_mode(app, client, login, admin):
    with app.app_context():
        settings.save({"maintenance_mode": True})
    for url in ("/", "/submit_ticket", "/ticket", "/forgot_tracking_id"):
        resp = client.get(url)
        assert resp.status_code == 503, url
        assert "The help desk is under maintenance" in resp.get_data(as_text=True)
        assert resp.headers["Retry-After"]
    assert client.get("/admin/login").status_code == 200  # staff still log in
    login("admin")


def test_knowledgebase_only_mode(app, client, make_ticket, quick_form):
    trackid = make_ticket(email="kb@example.com")
    with app.app_context():
        settings.save({"kb_enable": 2})
    home = client.get("/")
    form = client.get("/submit_ticket")
    if _has_rule(app, "/knowledgebase"):
        assert home.status_code == 302 and home.headers["Location"].endswith("/knowledgebase")
        assert form.status_code == 302
    else:
        assert home.status_code == 200 and 'href="/submit_ticket"' not in home.get_data(as_text=True)
        assert form.status_code == 404
        assert "Tickets cannot be submitted here" in text_of(form.get_data(as_text=True))
    # tickets already filed can still be read
    assert client.get(f"/ticket?track={trackid}&e=kb@example.com").status_code == 200


# --- service messages ------------------------------------------------------------------------------------

def _message(app, **kw):
    from hesk_py.services import service_messages

    data = {"title": "Planned maintenance", "message": "We upgrade on Sunday.", "style": "notice",
            "format": "plain", "published": True, "language": None}
    data.update(kw)
    with app.app_context():
        return service_messages.create_message(**data).id


def test_published_service_messages_show_on_the_home_page_in_order(app, client):
    _message(app, title="Second notice", message="Phones are down.")
    _message(app, title="Holiday hours", message="Closed on Friday.", style="success")
    _message(app, title="Secret draft", message="Not yet.", published=False)
    _message(app, title="Only in Ukrainian", language="uk")
    html = client.get("/").get_data(as_text=True)
    text = text_of(html)
    assert "Second notice" in text and "Phones are down." in text
    assert text.index("Second notice") < text.index("Holiday hours")
    assert "service-message notice-success" in html  # the style shows
    assert "Secret draft" not in text and "Not yet." not in text  # drafts stay with staff
    assert "Only in Ukrainian" not in text
    client.set_cookie("hesk_language", "uk")
    with app.app_context():
        settings.save({"can_sel_lang": True})
    assert "Only in Ukrainian" in text_of(client.get("/").get_data(as_text=True))


def test_service_messages_are_escaped(app, client):
    _message(app, title="<script>alert(1)</script>", message="<img src=x onerror=alert(2)> see https://example.com/status")
    _message(app, title="Markdown one", format="markdown",
             message="**Bold** <script>alert(3)</script> [x](javascript:alert(4)) <img src=x onerror=alert(5)>")
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "href=\"javascript" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # plain text: shown as typed, as text
    assert '<a href="https://example.com/status" rel="nofollow noopener noreferrer">' in html
    assert "<strong>Bold</strong>" in html  # Markdown is rendered, then sanitised


def test_no_service_messages_box_without_messages(app, client):
    _message(app, title="Draft only", published=False)
    assert 'class="service-messages"' not in client.get("/").get_data(as_text=True)
