"""Formatting: staff replies in Markdown (``staff_ticket_formatting``) and the article editor's toolbar and
preview (``kb_wysiwyg``). A Markdown reply is stored exactly as typed with its format, shown to staff and
customers as sanitised HTML (the knowledgebase's renderer), sent in HTML emails as HTML and in plain text
emails as typed."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import KbArticle, Reply, User
from hesk_py.models.workflow import STATUS_REPLIED
from tests.admin.ticket_helpers import act, in_db, logged_in, post, text_of, upload

TYPED = ("**Fixed** it, _finally_:\n\n- restart the [print server](https://example.com/docs)\n- `lpstat -t`\n\n"
         "> the old driver\n\n<script>alert(1)</script> [x](javascript:alert(2))")


@pytest.fixture
def admin_client(app, admin):
    in_db(app, lambda: settings.save({"flood": 0}))  # several replies in a row
    return logged_in(app, "admin")


@pytest.fixture
def trackid(make_ticket):
    return make_ticket(email="casey@example.com", autoassign=False)


def _markdown_on(app):
    in_db(app, lambda: settings.save({"staff_ticket_formatting": 2}))


def _reply(client, trackid, message=TYPED, **extra):
    """Reply through the ticket page's form (its token and the last reply it saw)."""
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    seen = re.search(r'name="last_reply_id"[^>]*value="(\d*)"', page) or re.search(
        r'value="(\d*)"[^>]*name="last_reply_id"', page)
    data = {"csrf_token": token, "last_reply_id": seen.group(1) if seen else "0", "message": message,
            "status": str(STATUS_REPLIED), "priority": "0", "submit": "y", "notify": "y", **extra}
    return client.post(f"/admin/tickets/{trackid}/reply", data={k: v for k, v in data.items() if v is not None})


def _stored(app):
    return in_db(app, lambda: [(r.message, r.message_format) for r in db.session.scalars(select(Reply))])


def _assert_rendered(html: str, rel: str = "noopener noreferrer nofollow") -> None:
    assert "<strong>Fixed</strong> it, <em>finally</em>:" in html
    assert f'<a href="https://example.com/docs" rel="{rel}">print server</a>' in html
    assert "<li><code>lpstat -t</code></li>" in html and "<blockquote>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert 'href="javascript:' not in html  # markdown-it leaves such a link as text


def _customer_page(app, trackid) -> str:
    customer = app.test_client()
    return customer.get(f"/ticket?track={trackid}&e=casey@example.com").get_data(as_text=True)


def test_plain_text_replies_by_default(app, admin_client, trackid):
    page = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "data-markdown-editor" not in page and "markdown-editor.js" not in page
    assert 'name="preview"' not in page
    assert _reply(admin_client, trackid, "**not bold** https://example.com/x").status_code == 302
    assert _stored(app) == [("**not bold** https://example.com/x", "text")]
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "**not bold**" in html and "<strong>not bold" not in html
    assert "**not bold**" in _customer_page(app, trackid)


def test_markdown_replies_are_stored_as_typed_and_shown_as_sanitised_html(app, admin_client, trackid):
    _markdown_on(app)
    page = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert 'class="markdown-editor" data-markdown-editor="1"' in page
    assert 'data-preview-url="/admin/markdown/preview"' in page and 'data-label-bold="Bold"' in page
    assert '<script src="/static/js/markdown-editor.js" defer></script>' in page
    assert _reply(admin_client, trackid).status_code == 302
    assert _stored(app) == [(TYPED, "markdown")]
    _assert_rendered(text_of(admin_client.get(f"/admin/tickets/{trackid}")))
    _assert_rendered(text_of(admin_client.get(f"/admin/tickets/{trackid}/print")))
    customer = _customer_page(app, trackid)
    _assert_rendered(customer)
    assert '<div class="message markdown">' in customer


def test_a_reply_keeps_its_format_when_the_setting_changes(app, admin_client, trackid):
    _markdown_on(app)
    _reply(admin_client, trackid, "**first**")
    in_db(app, lambda: settings.save({"staff_ticket_formatting": 0}))
    _reply(admin_client, trackid, "**second**")
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "<strong>first</strong>" in html and "**second**" in html
    assert _stored(app) == [("**first**", "markdown"), ("**second**", "text")]


def test_the_signature_keeps_its_lines_and_a_customer_reply_stays_plain(app, admin, admin_client, trackid):
    _markdown_on(app)

    def sign():
        db.session.get(User, admin).signature = "Ada Admin\nAcme Support"
        db.session.commit()

    in_db(app, sign)
    _reply(admin_client, trackid, "Done.", sign="y")
    html = text_of(admin_client.get(f"/admin/tickets/{trackid}"))
    assert "<p>Ada Admin<br>\nAcme Support</p>" in html
    _reply(admin_client, trackid, "*typed for the customer*", as_customer="y", submit=None)
    assert _stored(app)[-1] == ("*typed for the customer*", "text")


def test_preview_without_javascript_shows_the_reply_and_sends_nothing(app, admin_client, trackid):
    _markdown_on(app)
    resp = act(admin_client, trackid, "reply", {"message": TYPED, "status": "2", "priority": "0", "preview": "y"},
               files={"attachments": upload("log.txt", b"log")})
    assert resp.status_code == 200
    html = text_of(resp)
    preview = html[html.index('id="reply-preview"'):]
    _assert_rendered(preview[:preview.index("</div>\n")])
    assert TYPED.replace("<", "&lt;").replace(">", "&gt;") in html.replace("&#34;", '"')  # the text is kept
    assert "attached files are not kept" in unescape(html)
    assert _stored(app) == []


def test_the_preview_endpoint_renders_like_the_page(app, admin_client, client, csrf):
    token = csrf(admin_client, "/admin/")
    resp = admin_client.post("/admin/markdown/preview", data={"csrf_token": token, "text": TYPED})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    _assert_rendered(resp.get_json()["html"])
    assert admin_client.post("/admin/markdown/preview", data={"text": "x"}).status_code == 400  # no token
    assert client.post("/admin/markdown/preview", data={"text": "x"}).status_code in (302, 400)  # strangers


def test_editing_a_markdown_reply_keeps_the_editor(app, admin_client, trackid):
    _markdown_on(app)
    _reply(admin_client, trackid, "**v1**")
    reply_id = in_db(app, lambda: db.session.scalar(select(Reply.id)))
    page = text_of(admin_client.get(f"/admin/tickets/{trackid}/replies/{reply_id}/edit"))
    assert "data-markdown-editor" in page and "markdown-editor.js" in page
    post(admin_client, f"/admin/tickets/{trackid}/replies/{reply_id}/edit", {"message": "**v2**"},
         token_url=f"/admin/tickets/{trackid}/replies/{reply_id}/edit")
    assert _stored(app) == [("**v2**", "markdown")]


# --- the emails ------------------------------------------------------------------------------------

def _reply_mail(app, admin_client, trackid, smtp_server, **template):
    from hesk_py.services import email_templates, mailer

    def setup():
        settings.save({"email_formatting": 3})
        email_templates.save("new_reply_by_staff", "en", subject="Reply %%TRACK_ID%%", **template)

    in_db(app, setup)
    in_db(app, mailer.deliver_due)  # the confirmation of the new ticket
    before = len(smtp_server.wait_for(1))
    _markdown_on(app)
    assert _reply(admin_client, trackid).status_code == 302
    assert in_db(app, mailer.deliver_due)["sent"] == 1
    mail = smtp_server.wait_for(before + 1)[-1]
    parts = {p.get_content_type(): p.get_content() for p in mail.walk() if p.get_content_maintype() == "text"}
    return parts["text/plain"].replace("\r\n", "\n"), parts["text/html"]


def test_html_emails_carry_the_reply_as_html_and_text_emails_as_typed(app, admin_client, trackid, smtp_server):
    text, html = _reply_mail(app, admin_client, trackid, smtp_server, body_text="New reply:\n%%MESSAGE%%",
                             body_html="<p>New reply:</p>%%MESSAGE%%")
    assert TYPED in text  # the source, as typed
    assert "<p>New reply:</p>" in html
    _assert_rendered(html, rel="noopener noreferrer")  # the email sanitiser sets its own rel


def test_an_html_part_made_from_the_text_template_renders_the_markdown_too(app, admin_client, trackid, smtp_server):
    text, html = _reply_mail(app, admin_client, trackid, smtp_server, body_text="New reply:\n\n%%MESSAGE%%\n\nBye",
                             body_html="")
    assert TYPED in text
    assert "<strong>Fixed</strong>" in html and "<li><code>lpstat -t</code></li>" in html
    assert "<p>New reply:</p>" in html and "<p>Bye</p>" in html
    assert "<script>" not in html and "**Fixed**" not in html


# --- kb_wysiwyg: the article editor ----------------------------------------------------------------

def test_kb_wysiwyg_gives_the_article_editor_a_toolbar_and_a_preview(app, admin_client):
    page = text_of(admin_client.get("/admin/knowledgebase/article/new"))
    assert "data-markdown-editor" in page and "markdown-editor.js" in page and 'name="preview"' in page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = admin_client.post("/admin/knowledgebase/article/new", data={
        "csrf_token": token, "title": "Printing", "content": TYPED, "keywords": "", "category_id": "1",
        "type": "published", "preview": "y"})
    assert resp.status_code == 200
    html = text_of(resp)
    preview = html[html.index('id="article-preview"'):]
    _assert_rendered(preview[:preview.index("</div>")])
    assert in_db(app, lambda: db.session.scalar(select(KbArticle.id))) is None  # a preview saves nothing

    in_db(app, lambda: settings.save({"kb_wysiwyg": False}))
    page = text_of(admin_client.get("/admin/knowledgebase/article/new"))
    assert "data-markdown-editor" not in page and "markdown-editor.js" not in page
    assert 'name="preview"' not in page
    assert "Markdown: **bold**" in unescape(page)  # still Markdown, with its hint
