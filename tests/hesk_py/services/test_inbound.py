"""Email piping: each message of the corpus (tests/email/corpus) as the help desk files it, and each rule
of loop and junk protection."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Attachment, InboundMail, OutboxMessage, QuarantinedMail, Ticket
from hesk_py.models.tickets import OPENED_BY_PIPE
from hesk_py.models.workflow import STATUS_WAITING_REPLY
from hesk_py.services import attachments, bans, mailer, tickets
from hesk_py.services.inbound import html_to_text, import_message

CORPUS = Path(__file__).resolve().parents[2] / "email" / "corpus"


def eml(name: str, **replace: str) -> bytes:
    raw = (CORPUS / f"{name}.eml").read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def pipe(raw: bytes):
    return import_message(raw, channel="pipe")


def ticket_count() -> int:
    return db.session.scalar(select(func.count(Ticket.id)))


def files_of(ticket: Ticket) -> dict[str, bytes]:
    rows = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
    return {a.real_name: attachments.storage().path(a.saved_name).read_bytes() for a in rows}


def customer_ticket(**kw) -> Ticket:
    data = dict(name="Casey Customer", email="casey@example.com", subject="Printer on fire",
                message="It started smoking this morning.", category_id=1,
                actor=tickets.Actor.customer("Casey Customer"))
    data.update(kw)
    return tickets.create_ticket(**data)


# --- the corpus ------------------------------------------------------------------------------------

def test_outlook_html_only_mail_becomes_a_ticket_with_clean_text(app_ctx):
    result = pipe(eml("outlook_html_only"))
    assert result.action == "created"
    ticket = tickets.get_ticket(result.trackid)
    assert ticket.opened_by == OPENED_BY_PIPE
    assert (ticket.name, ticket.email) == ("Olga Nowak", "olga.nowak@contoso.example")
    assert ticket.subject == "Cannot log in to the portal"
    text = ticket.message
    assert text.startswith("Hello,\n\nSince this morning I cannot log in to the portal – it says "
                           "\"session expired\" every time.")
    assert "- open the login page\n- type my password" in text
    assert "Kind regards,\nOlga Nowak\nContoso Ltd. – Accounts" in text
    for junk in ("<", "MsoNormal", "Calibri", "alert", "&nbsp;", "&quot;"):
        assert junk not in text
    # the customer gets the confirmation, as from the web form
    assert db.session.scalar(select(OutboxMessage.recipient).where(OutboxMessage.template == "new_ticket")) \
        == "olga.nowak@contoso.example"


def test_gmail_reply_is_added_to_the_ticket_without_the_quoted_history(app_ctx):
    ticket = customer_ticket()
    result = pipe(eml("gmail_reply_quoted", **{"ABC-DEF-1234": ticket.trackid}))
    assert (result.action, result.trackid) == ("replied", ticket.trackid)
    thread = tickets.load_thread(ticket.trackid)
    (reply,) = thread.replies
    assert reply.author_type == "customer"
    assert reply.message == "Thanks, the new fuse did it – the printer works again.\n\nCasey"
    assert thread.status_id == STATUS_WAITING_REPLY
    assert ticket_count() == 1


def test_strip_quoted_off_keeps_the_quoted_history(app_ctx):
    settings.save({"strip_quoted": False})
    ticket = customer_ticket()
    result = pipe(eml("gmail_reply_quoted", **{"ABC-DEF-1234": ticket.trackid}))
    (reply,) = tickets.load_thread(result.trackid).replies
    assert "Reply above this line" in reply.message and "wrote:" in reply.message


def test_apple_mail_inline_image_is_saved_as_an_attachment(app_ctx):
    result = pipe(eml("apple_mail_inline_image"))
    ticket = tickets.get_ticket(result.trackid)
    assert ticket.message == "The export button shows this error:\n\n[screenshot]\n\nAnna"
    files = files_of(ticket)
    assert list(files) == ["Screenshot.png"]
    assert files["Screenshot.png"].startswith(b"\x89PNG")


def test_save_embedded_off_drops_inline_images(app_ctx):
    settings.save({"save_embedded": False})
    result = pipe(eml("apple_mail_inline_image"))
    assert result.action == "created"
    assert files_of(tickets.get_ticket(result.trackid)) == {}


def test_base64_body_and_latin1_encoded_sender_name(app_ctx):
    ticket = tickets.get_ticket(pipe(eml("base64_body")).trackid)
    assert ticket.name == "Jürgen Weiß"
    assert ticket.message.startswith("Guten Tag,\n\ndie Rechnung Nr. 4711 ist doppelt abgebucht worden.")
    assert ticket.message.endswith("Mit freundlichen Grüßen\nJürgen Weiß")


def test_quoted_printable_body_and_subject(app_ctx):
    ticket = tickets.get_ticket(pipe(eml("quoted_printable_body")).trackid)
    assert ticket.subject == "Rapport mensuel vide après la mise à jour"
    assert ("Le rapport mensuel ne s'affiche plus depuis la mise à jour de vendredi dernier ; la page reste "
            "blanche après le chargement.") in ticket.message  # the soft line break is joined again
    assert ticket.name == "Hélène Lefèvre"


def test_cyrillic_encoded_word_subject_and_name(app_ctx):
    ticket = tickets.get_ticket(pipe(eml("cyrillic_subject")).trackid)
    assert ticket.subject == "Не работает принтер в офисе 214"
    assert ticket.name == "Иван Петров"
    assert ticket.message == "Здравствуйте!\n\nПринтер в офисе 214 печатает пустые листы.\n\nИван"


def test_koi8r_body_and_subject(app_ctx):
    ticket = tickets.get_ticket(pipe(eml("koi8r_body")).trackid)
    assert ticket.subject == "Не приходят письма"
    assert ticket.name == "Полина Сирота"
    assert ticket.message == "Добрый день!\n\nУже неделю не приходят письма с уведомлениями.\n\nПолина Сирота"


def test_three_attachments_one_over_the_size_limit(app_ctx):
    settings.save({"attachments.max_number": 3, "attachments.max_size": 8})
    ticket = tickets.get_ticket(pipe(eml("three_attachments")).trackid)
    files = files_of(ticket)
    assert sorted(files) == ["crash-report.pdf", "notes.txt"]
    assert files["notes.txt"].startswith(b"09:12 crash after clicking Export")
    # the ticket says which file was left out and why
    assert ticket.message.startswith("The app crashed twice today.")
    assert "\"full-dump.zip\" is too large" in ticket.message and "The limit is 8 KB per file." in ticket.message


def test_attachments_beyond_the_maximum_number_are_named_in_the_message(app_ctx):
    settings.save({"attachments.max_number": 1, "attachments.max_size": 64})
    ticket = tickets.get_ticket(pipe(eml("three_attachments")).trackid)
    assert list(files_of(ticket)) == ["crash-report.pdf"]
    assert "\"notes.txt\" was not saved: at most 1 files are kept." in ticket.message


def test_attachments_off_saves_no_files(app_ctx):
    settings.save({"attachments.use": False})
    ticket = tickets.get_ticket(pipe(eml("empty_body_attachment")).trackid)
    assert files_of(ticket) == {}
    assert "Attachments are not accepted" in ticket.message and "contract.pdf" in ticket.message


def test_auto_reply_is_ignored(app_ctx):
    result = pipe(eml("auto_reply"))
    assert result.action == "ignored" and "automatic reply" in result.reason
    assert ticket_count() == 0


def test_bounce_is_ignored(app_ctx):
    result = pipe(eml("bounce"))
    assert result.action == "ignored" and "bounce" in result.reason
    assert ticket_count() == 0


def test_pipe_block_returned_off_files_auto_replies(app_ctx):
    settings.save({"pipe_block_returned": False})
    assert pipe(eml("auto_reply")).action == "created"


def test_mail_loop_stops_after_loop_hits_mails_from_one_sender(app_ctx):
    settings.save({"loop_hits": 3, "loop_time": 300})
    results = [pipe(eml("mail_loop", **{"100042": str(100042 + n)})) for n in range(5)]
    assert [r.action for r in results] == ["created", "created", "created", "ignored", "ignored"]
    assert "Mail loop" in results[3].reason
    assert ticket_count() == 3


def test_loop_hits_zero_turns_loop_protection_off(app_ctx):
    settings.save({"loop_hits": 0})
    results = [pipe(eml("mail_loop", **{"100042": str(100042 + n)})) for n in range(8)]
    assert {r.action for r in results} == {"created"}


def test_loop_time_is_the_window_of_loop_hits(app_ctx):
    settings.save({"loop_hits": 1, "loop_time": 60})
    assert pipe(eml("mail_loop")).action == "created"
    # the first mail arrived longer ago than the window: the next one is not a loop
    for row in db.session.scalars(select(InboundMail)):
        row.received_at -= timedelta(seconds=61)
    db.session.commit()
    assert pipe(eml("mail_loop", **{"100042": "100043"})).action == "created"
    assert pipe(eml("mail_loop", **{"100042": "100044"})).action == "ignored"


def test_reply_from_a_stranger_with_a_valid_tracking_id_opens_a_new_ticket(app_ctx):
    ticket = customer_ticket()
    result = pipe(eml("stranger_reply", **{"ABC-DEF-1234": ticket.trackid}))
    assert result.action == "created" and result.trackid != ticket.trackid
    assert tickets.load_thread(ticket.trackid).replies == []
    assert tickets.get_ticket(result.trackid).email == "mallory@stranger.example"


def test_empty_body_with_an_attachment(app_ctx):
    ticket = tickets.get_ticket(pipe(eml("empty_body_attachment")).trackid)
    assert ticket.message == ""
    assert list(files_of(ticket)) == ["contract.pdf"]


def test_eml_req_msg_ignores_mail_without_text(app_ctx):
    settings.save({"eml_req_msg": True})
    result = pipe(eml("empty_body_attachment"))
    assert result.action == "ignored" and ticket_count() == 0
    # the attachment was not kept either
    assert [p.name for p in attachments.storage().root.glob("*") if p.name != ".htaccess"] == []


def test_noreply_sender_is_ignored_unless_turned_off(app_ctx):
    assert pipe(eml("noreply_sender")).action == "ignored"
    settings.save({"pipe_block_noreply": False})
    assert pipe(eml("noreply_sender", **{"77": "78"})).action == "created"


def test_mail_without_a_sender_is_quarantined_not_dropped(app_ctx):
    raw = eml("no_sender")
    result = pipe(raw)
    assert result.action == "quarantined" and "no valid sender" in result.reason
    row = db.session.scalar(select(QuarantinedMail))
    assert row.raw == raw and row.channel == "pipe" and row.subject == ""
    assert ticket_count() == 0


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"\xff\xfe\x00garbage without headers"])
def test_garbage_is_quarantined(app_ctx, raw):
    result = pipe(raw)
    assert result.action == "quarantined"
    assert db.session.scalar(select(QuarantinedMail.raw)) == raw


# --- duplicates, bans, our own mail ------------------------------------------------------------------

def test_the_same_message_id_is_imported_once(app_ctx):
    first, second = pipe(eml("base64_body")), pipe(eml("base64_body"))
    assert first.action == "created" and second.action == "ignored"
    assert "imported already" in second.reason and ticket_count() == 1


def test_pipe_block_duplicate_ignores_identical_mail_with_a_new_message_id(app_ctx):
    assert pipe(eml("base64_body")).action == "created"
    again = pipe(eml("base64_body", **{"GA1234": "GA9999"}))
    assert again.action == "ignored" and "identical" in again.reason
    settings.save({"pipe_block_duplicate": False})
    assert pipe(eml("base64_body", **{"GA1234": "GA7777"})).action == "created"


def test_banned_sender_is_refused(app_ctx):
    bans.ban_email("@web.example")
    db.session.commit()
    result = pipe(eml("base64_body"))
    assert result.action == "refused" and ticket_count() == 0


def test_a_locked_ticket_gets_a_new_ticket_instead_of_a_reply(app_ctx, admin):
    from hesk_py.models import User

    ticket = customer_ticket()
    tickets.set_locked(ticket, True, actor=tickets.Actor.staff(db.session.get(User, admin)))
    result = pipe(eml("gmail_reply_quoted", **{"ABC-DEF-1234": ticket.trackid}))
    assert result.action == "created" and result.trackid != ticket.trackid


def test_reply_threaded_by_in_reply_to_and_our_own_mail_is_ignored(app_ctx, smtp_server):
    """The real round trip: our confirmation goes out over SMTP, the customer answers it without the
    tracking ID in the subject; the mail we sent, piped back in, is not imported."""
    ticket = customer_ticket()
    assert mailer.deliver_due()["sent"] == 1
    (sent,) = smtp_server.wait_for(1)
    body = sent.get_content()
    assert body.startswith("------ Reply above this line ------")
    quoted = "\n".join("> " + line for line in body.splitlines())
    reply = (f"From: Casey Customer <casey@example.com>\nTo: noreply@example.com\nSubject: Re: my printer\n"
             f"Message-ID: <reply-1@example.com>\nIn-Reply-To: {sent['Message-ID']}\n"
             f"References: {sent['Message-ID']}\nContent-Type: text/plain; charset=utf-8\n\n"
             f"It is still smoking.\n\nOn Tue, 4 Jun 2024, Help Desk wrote:\n{quoted}\n").encode()
    result = pipe(reply)
    assert (result.action, result.trackid) == ("replied", ticket.trackid)
    (r,) = tickets.load_thread(ticket.trackid).replies
    assert r.message == "It is still smoking."
    own = pipe(sent.as_bytes())
    assert own.action == "ignored" and "sent itself" in own.reason


def test_spam_tagged_subject_gets_no_confirmation(app_ctx):
    result = pipe(eml("base64_body", **{"Subject: Doppelte": "Subject: [SPAM] Doppelte"}))
    assert result.action == "created"
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.template == "new_ticket")) == 0
    settings.save({"notify_skip_spam": False})
    pipe(eml("base64_body", **{"Subject: Doppelte": "Subject: [SPAM] Zweite", "GA1234": "GA2"}))
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.template == "new_ticket")) == 1


def test_notify_spam_tags_are_the_tags_looked_for(app_ctx):
    settings.save({"notify_spam_tags": ["{Spam?}"]})
    pipe(eml("base64_body", **{"Subject: Doppelte": "Subject: [SPAM] Doppelte"}))
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.template == "new_ticket")) == 1
    pipe(eml("quoted_printable_body", **{"Subject: ": "Subject: {Spam?} "}))
    assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.template == "new_ticket")) == 1


def test_the_staff_ticket_page_shows_the_piped_mail(app, client, admin, login):
    with app.app_context():
        settings.save({"attachments.max_number": 3, "attachments.max_size": 8})
        trackid = pipe(eml("three_attachments")).trackid
    login()
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert "Logs from the crash" in page and "The app crashed twice today." in page
    assert "crash-report.pdf" in page and "notes.txt" in page


def test_html_to_text_keeps_paragraphs_and_drops_markup():
    assert html_to_text("<p>One &amp; two</p><p>Three<br>four</p><style>p{}</style>") == \
        "One & two\n\nThree\nfour"
