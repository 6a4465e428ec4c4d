"""What the notification emails look like when they arrive (over real SMTP, aiosmtpd): an administrator's
version of a template in the recipient's language, plain text and/or HTML per ``email_formatting``, the
HTML safe whatever the template or the customer typed, the sandbox, the tracking ID, the "reply above
this line" marker, the Message-ID recorded, and the ticket's files linked or attached per the settings."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import EmailTemplate, OutboxMessage, Ticket, User
from hesk_py.services import attachments, mailer, tickets
from hesk_py.services import email_templates as templates
from hesk_py.services.tickets import Actor

UK_TEXT = ("Шановний(а) %%NAME%% (%%FIRST_NAME%%),\n\nЗаявку %%TRACK_ID%% отримано.\n"
           "Категорія: %%CATEGORY%%; статус: %%STATUS%%; пріоритет: %%PRIORITY%%.\n"
           "Повідомлення:\n%%MESSAGE%%\n\nПосилання: %%TRACK_URL%%\n%%SITE_TITLE%%")


URL = "https://www.example.com/helpdesk"  # hesk_url's default


def _labels(ticket: Ticket, language: str) -> tuple[str, str]:
    """The ticket's status and priority as a reader of ``language`` sees them."""
    from flask_babel import force_locale

    from hesk_py.services.defaults import label

    row = db.session.get(Ticket, ticket.id)
    with force_locale(language):
        return label(row.status), label(row.priority)


def _ticket(**kw) -> Ticket:
    data = dict(name="Olena Kovalenko", email="olena@example.com", subject="Принтер не друкує",
                message="Він мовчить.\nДеталі: https://example.org/printer", category_id=1,
                actor=Actor.customer("Olena Kovalenko"), language="uk", autoassign=False)
    data.update(kw)
    return tickets.create_ticket(**data)


def _deliver(smtp_server, n: int = 1) -> list:
    assert mailer.deliver_due()["sent"] == n
    mails = smtp_server.wait_for(n)
    assert len(mails) == n
    return mails


def _mail_to(mails, address):
    found = [m for m in mails if m["To"] == address]
    assert len(found) == 1, [m["To"] for m in mails]
    return found[0]


def _text(part) -> str:
    """A text part as the reader sees it (line ends as in the template)."""
    return part.get_content().replace("\r\n", "\n")


def _parts(mail) -> dict[str, str]:
    """content type -> decoded text of every text part."""
    return {p.get_content_type(): _text(p) for p in mail.walk() if p.get_content_maintype() == "text"}


def _marker(language: str) -> str:
    from flask_babel import force_locale

    with force_locale(language):
        return str(mailer.REPLY_MARKER)


def test_the_edited_template_in_the_customers_language_is_what_arrives(app_ctx, smtp_server):
    templates.save("new_ticket", "uk", subject="[#%%TRACK_ID%%] Отримали: %%SUBJECT%%", body_text=UK_TEXT,
                   body_html="")
    uk = _ticket()
    en = _ticket(name="Eve English", email="eve@example.com", subject="Printer", language="en")
    mails = _deliver(smtp_server, 2)
    got = _mail_to(mails, "olena@example.com")
    assert got["Subject"] == f"[#{uk.trackid}] Отримали: Принтер не друкує"
    body = _text(got)
    assert body.startswith(_marker("uk") + "\n\n")
    assert "Шановний(а) Olena Kovalenko (Olena)," in body
    assert f"Заявку {uk.trackid} отримано." in body
    status, priority = _labels(uk, "uk")
    assert f"Категорія: Загальне; статус: {status}; пріоритет: {priority}." in body
    assert "Він мовчить.\nДеталі: https://example.org/printer" in body
    assert f"Посилання: {URL}/ticket?track={uk.trackid}\nHelp Desk" in body
    assert got["X-Hesk-Tracking-ID"] == uk.trackid
    # the customer writing in English gets the default, untouched
    other = _mail_to(mails, "eve@example.com")
    assert other["Subject"] == f"[#{en.trackid}] Ticket received: Printer"
    assert "Your support ticket \"Printer\" has been submitted." in _text(other)
    # the Message-ID that went out is recorded for threading replies
    rows = {r.recipient: r for r in db.session.scalars(select(OutboxMessage))}
    assert rows["olena@example.com"].message_id == got["Message-ID"]


def test_the_ticket_details_fill_the_tags(app_ctx, smtp_server):
    templates.save("new_ticket", "en", subject="%%SUBJECT%% / %%CATEGORY%% / %%PRIORITY%%",
                   body_text="%%STATUS%%|%%OWNER%%|%%ID%%|%%EMAIL%%|%%UNKNOWN_TAG%%|"
                             "{% if due_date %}due{% else %}no due date{% endif %}", body_html="")
    t = _ticket(language="en", subject="Help")
    status, priority = _labels(t, "en")
    (mail,) = _deliver(smtp_server)
    assert mail["Subject"] == f"Help / General / {priority}"
    body = _text(mail)
    assert f"{status}||{t.id}|olena@example.com|%%UNKNOWN_TAG%%|no due date" in body


@pytest.mark.parametrize("formatting,types", [
    (0, ["text/plain"]),
    (1, ["text/html"]),
    (2, ["multipart/alternative", "text/plain", "text/html"]),
    (3, ["multipart/alternative", "text/plain", "text/html"]),
])
def test_the_html_part_follows_email_formatting(app_ctx, smtp_server, formatting, types):
    settings.save({"email_formatting": formatting})
    t = _ticket(language="en", subject="Links & <tags>")
    (mail,) = _deliver(smtp_server)
    assert [p.get_content_type() for p in mail.walk()] == types
    parts = _parts(mail)
    if "text/html" in parts:
        html = parts["text/html"]
        # made from the plain text: escaped, the address a link, the marker on top
        assert "Links &amp; &lt;tags&gt;" in html and "<tags>" not in html
        assert f'<a href="{URL}/ticket?track={t.trackid}">' in html
        assert "Reply above this line" in html
    if "text/plain" in parts:
        assert "Links & <tags>" in parts["text/plain"]
        assert f"/ticket?track={t.trackid}" in parts["text/plain"]


def test_an_html_override_is_sanitised_and_its_text_version_made_from_it(app_ctx, smtp_server):
    settings.save({"email_formatting": 2})
    templates.save(
        "new_ticket", "en", subject="[#%%TRACK_ID%%] Got it", body_text="Plain %%NAME%%",
        body_html='<h1 onclick="steal()">Hi %%NAME%%</h1><script>alert(1)</script>'
                  '<p><a href="%%TRACK_URL%%">your ticket</a> <a href="javascript:alert(2)">x</a></p>'
                  '<img src="https://example.org/x.png" onerror="alert(3)"><p>%%MESSAGE%%</p>')
    t = _ticket(language="en", name="Mallory <script>alert(4)</script>",
                message="<b>not bold</b> https://example.org/a")
    (mail,) = _deliver(smtp_server)
    parts = _parts(mail)
    html = parts["text/html"]
    for bad in ("<script", "alert(1)", "onclick", "onerror", "javascript:", "<b>"):
        assert bad not in html, bad
    assert "Hi Mallory &lt;script&gt;alert(4)&lt;/script&gt;</h1>" in html
    assert f'<a href="{URL}/ticket?track={t.trackid}" rel="noopener noreferrer">your ticket</a>' in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and '<a href="https://example.org/a"' in html
    # option 2: the plain text version is made from the HTML, links keep their address
    text = parts["text/plain"]
    assert f"your ticket ({URL}/ticket?track={t.trackid})" in text
    assert "Hi Mallory <script>alert(4)</script>" in text and "alert(1)" not in text


def test_what_a_customer_types_is_never_template_code(app_ctx, smtp_server):
    templates.save("new_ticket", "en", subject="Re: %%SUBJECT%%", body_text="%%NAME%% wrote %%MESSAGE%%",
                   body_html="")
    _ticket(language="en", name="{{ 7*7 }}", subject="{% for x in range(3) %}x{% endfor %}",
            message="%%EMAIL%% {{ ''.__class__ }}")
    (mail,) = _deliver(smtp_server)
    assert mail["Subject"] == "Re: {% for x in range(3) %}x{% endfor %}"
    assert "{{ 7*7 }} wrote %%EMAIL%% {{ ''.__class__ }}" in _text(mail)


def test_the_sandbox_refuses_attribute_tricks(app_ctx, smtp_server):
    for source in ("{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                   "{{ cycler.__init__.__globals__ }}", "{{ ''|attr('__class__') }}",
                   "{{ '{0.__class__}'.format(1) }}", "{{ 'x' * 100000000 }}", "{{ 9 ** 999999 }}"):
        with pytest.raises(templates.InvalidEmailTemplate) as caught:
            templates.save("new_ticket", "en", subject="S", body_text=source, body_html="")
        assert "body_text" in caught.value.errors, source
    assert db.session.scalar(select(EmailTemplate)) is None
    # a row written around the editor (by hand in the database) cannot leak anything either: the default
    # goes out instead
    db.session.add(EmailTemplate(name="new_ticket", language="en", subject="{{ ''.__class__.__mro__ }}",
                                 body_text="{{ ''.__class__.__mro__[1].__subclasses__() }}", body_html=""))
    db.session.commit()
    t = _ticket(language="en", subject="Sandboxed")
    (mail,) = _deliver(smtp_server)
    assert mail["Subject"] == f"[#{t.trackid}] Ticket received: Sandboxed"
    assert "<class" not in _text(mail) and "subclasses" not in _text(mail)


def test_reset_restores_the_default(app_ctx, smtp_server):
    templates.save("new_ticket", "en", subject="Edited %%TRACK_ID%%", body_text="Edited body", body_html="")
    assert templates.reset("new_ticket", "en") is True
    assert templates.reset("new_ticket", "en") is False
    t = _ticket(language="en", subject="Back")
    (mail,) = _deliver(smtp_server)
    assert mail["Subject"] == f"[#{t.trackid}] Ticket received: Back"
    assert "Edited" not in _text(mail)


def _stored(name: str, content: bytes, ctype: str = "text/plain") -> dict:
    saved = attachments.storage().save(io.BytesIO(content))
    return {"saved_name": saved, "real_name": name, "size": len(content), "content_type": ctype}


def _staff_reply_with_files(files: list[dict]):
    t = _ticket(language="en", subject="Files")
    mailer.deliver_due()  # the confirmation
    from hesk_py.services import accounts

    staff = accounts.create_user(username="sam", email="sam@example.com", name="Sam Staff", password="Staff-pass-w0rd",
                                 is_admin=True)
    reply = tickets.add_reply(t, message="Here is the fix.", actor=Actor.staff(staff), attachments=files)
    return t, reply


def test_attachments_are_linked_under_the_message(app_ctx, smtp_server):
    templates.save("new_reply_by_staff", "en", subject="[#%%TRACK_ID%%] Reply",
                   body_text="%%STAFF_NAME%% wrote:\n%%MESSAGE%%", body_html="")
    t, reply = _staff_reply_with_files([_stored("fix.txt", b"the fix")])
    att_id = reply.attachments[0].id
    mails = smtp_server.wait_for(1)
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(len(mails) + 1)[-1]
    assert mail["Subject"] == f"[#{t.trackid}] Reply"
    body = _text(mail)
    assert "Sam Staff wrote:\nHere is the fix.\n\nAttachments:\nfix.txt\n" in body
    assert f"{URL}/ticket/attachment/{att_id}?track={t.trackid}" in body
    assert not mail.is_multipart()


def test_attachments_are_attached_when_the_settings_say_so(app_ctx, smtp_server):
    settings.save({"attachments.attachment_in_email_type": 1, "attachments.file_max_size": 1})
    templates.save("new_reply_by_staff", "en", subject="[#%%TRACK_ID%%] Reply",
                   body_text="%%MESSAGE%%\n--\n%%ATTACHMENTS%%", body_html="")
    big = b"x" * 2048  # over the 1 KB limit: linked instead
    t, reply = _staff_reply_with_files([_stored("small.txt", b"small file"), _stored("big.txt", big)])
    big_id = reply.attachments[1].id
    before = len(smtp_server.wait_for(1))
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(before + 1)[-1]
    files = {p.get_filename(): _text(p) for p in mail.iter_attachments()}
    assert files == {"small.txt": "small file"}
    body = _text(mail.get_body(("plain",)))
    assert f"big.txt\n{URL}/ticket/attachment/{big_id}?track={t.trackid}" in body
    assert "small.txt" not in body


def test_staff_emails_link_to_the_staff_panel_and_carry_the_note(app_ctx, smtp_server):
    from hesk_py.services import accounts

    owner = accounts.create_user(username="owen", email="owen@example.com", name="Owen Owner",
                                 password="Staff-pass-w0rd", is_admin=True, language="en")
    other = accounts.create_user(username="nora", email="nora@example.com", name="Nora Noter",
                                 password="Staff-pass-w0rd", is_admin=True)
    t = _ticket(language="en", owner_id=owner.id)
    mailer.deliver_due()
    before = len(smtp_server.wait_for(1))
    templates.save("new_note", "en", subject="Note on %%TRACK_ID%%",
                   body_text="Hi %%STAFF_NAME%%, %%NOTE_AUTHOR%% noted:\n%%MESSAGE%%\n%%TRACK_URL%%", body_html="")
    tickets.add_note(db.session.get(Ticket, t.id), message="Call them back.", actor=Actor.staff(other))
    assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(before + 1)[-1]
    assert mail["To"] == "owen@example.com" and mail["Subject"] == f"Note on {t.trackid}"
    body = _text(mail)
    assert "Hi Owen Owner, Nora Noter noted:\nCall them back.\n" in body
    assert f"{URL}/admin/tickets/{t.trackid}" in body


def test_a_staff_member_gets_the_template_of_their_own_language(app_ctx, smtp_server):
    from hesk_py.services import accounts

    templates.save("ticket_assigned_to_you", "bg", subject="Възложен: %%TRACK_ID%%",
                   body_text="Здравей, %%STAFF_NAME%%", body_html="")
    owner = accounts.create_user(username="boris", email="boris@example.com", name="Борис",
                                 password="Staff-pass-w0rd", is_admin=True, language="bg")
    t = _ticket(language="en", owner_id=owner.id)
    mails = _deliver(smtp_server, 2)
    got = _mail_to(mails, "boris@example.com")
    assert got["Subject"] == f"Възложен: {t.trackid}"
    assert "Здравей, Борис" in _text(got)
    assert db.session.scalar(select(User.language).where(User.id == owner.id)) == "bg"
