"""The settings features whose JavaScript a person uses, in Chromium: the Markdown toolbar and preview on the
reply form and the article editor (``staff_ticket_formatting``, ``kb_wysiwyg``), the "Did you mean ...?" email
suggestion while typing (``detect_typos``), and the keep-alive ping of an open staff page (``extend_admin``)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from hesk_py import settings
from tests.browser.test_settings import _log_in

pytestmark = pytest.mark.browser


def _save(app, **values):
    with app.test_request_context():
        settings.save(values)


def test_a_markdown_reply_with_the_toolbar_and_the_preview(app, live_server, page, admin, make_ticket, screenshot):
    _save(app, staff_ticket_formatting=2, flood=0)
    trackid = make_ticket(email="casey@example.com", autoassign=False)
    _log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/tickets/{trackid}")
    box = page.locator("#reply textarea[name=message]")
    toolbar = page.locator("#reply .md-toolbar")
    expect(toolbar).to_be_visible()
    # the no-JavaScript preview button is replaced by the toolbar's
    expect(page.locator("#reply button[name=preview]")).to_be_hidden()
    box.fill("Restart the spooler")
    box.evaluate("el => el.setSelectionRange(12, 19)")  # "spooler"
    toolbar.locator("button.md-bold").click()
    assert box.input_value() == "Restart the **spooler**"
    box.evaluate("el => el.setSelectionRange(el.value.length, el.value.length)")
    box.press("End")
    box.type("\n")
    toolbar.locator("button.md-list").click()
    box.type("then print a test page")
    assert box.input_value() == "Restart the **spooler**\n- then print a test page"
    toolbar.locator("button.md-preview-toggle").click()
    preview = page.locator("#reply .md-preview")
    expect(preview.locator("strong")).to_have_text("spooler")
    expect(preview.locator("li")).to_have_text("then print a test page")
    expect(box).to_be_hidden()
    screenshot("preview")
    toolbar.locator("button.md-preview-toggle").click()
    expect(box).to_be_visible()
    page.click("#reply button[name=submit]")
    page.wait_for_url(re.compile(rf".*/admin/tickets/{trackid}.*"))
    reply = page.locator("#replies article.reply").last
    expect(reply.locator(".message-text.markdown strong")).to_have_text("spooler")
    screenshot("staff-view")
    # the customer sees it formatted too
    customer = page.context.browser.new_page()
    customer.goto(f"{live_server.url}/ticket?track={trackid}&e=casey@example.com")
    expect(customer.locator(".message.markdown li")).to_have_text("then print a test page")
    customer.close()


def test_the_article_editor_toolbar_and_preview(app, live_server, page, admin, screenshot):
    _log_in(page, live_server)
    page.goto(live_server.url + "/admin/knowledgebase/article/new")
    page.fill("#title", "Clearing a paper jam")
    page.fill("#content", "Open the tray")
    page.locator("#content").evaluate("el => el.setSelectionRange(9, 13)")
    page.locator(".md-toolbar button.md-italic").click()
    assert page.input_value("#content") == "Open the *tray*"
    page.locator(".md-toolbar button.md-preview-toggle").click()
    expect(page.locator(".md-preview em")).to_have_text("tray")
    screenshot("article-preview")


def test_email_typo_suggestion_while_typing(app, live_server, page, screenshot):
    page.goto(live_server.url + "/submit_ticket?category=1")
    page.fill("#email", "casey@gmial.com")
    page.locator("#name").focus()  # leaving the field asks the help desk
    suggestion = page.locator(".email-typo")
    expect(suggestion).to_contain_text("Did you mean casey@gmail.com?")
    screenshot("suggestion")
    suggestion.locator("button", has_text="Yes, use casey@gmail.com").click()
    assert page.input_value("#email") == "casey@gmail.com"
    expect(suggestion).to_have_count(0)
    # "No": the address stays, and the form will not ask again when it is sent
    page.fill("#email", "casey@hotmial.com")
    page.locator("#name").focus()
    page.locator(".email-typo button", has_text="No, keep casey@hotmial.com").click()
    assert page.input_value("#email") == "casey@hotmial.com"
    assert page.locator("input[name=email_checked]").input_value() == "casey@hotmial.com"


def test_email_typo_suggestion_on_the_staff_new_ticket_form(app, live_server, page, admin):
    _log_in(page, live_server)
    page.goto(live_server.url + "/admin/tickets/new?category=1")
    page.fill("input[name=email]", "kim@yahoo.co")
    page.locator("input[name=name]").focus()
    expect(page.locator(".email-typo")).to_contain_text("Did you mean kim@yahoo.com?")


def test_an_open_staff_page_pings_to_stay_logged_in(app, live_server, page, admin):
    app.config["HESK_SESSION_IDLE_MINUTES"] = 1  # a ping every 20 seconds
    _save(app, extend_admin=True)
    _log_in(page, live_server)
    page.goto(live_server.url + "/admin/")
    with page.expect_response(lambda r: r.url.endswith("/admin/keepalive"), timeout=30_000) as ping:
        pass
    assert ping.value.status == 204
