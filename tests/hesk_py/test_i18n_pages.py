"""The pages people read, in each of the five languages: the home page, the ticket form with a validation
error, the staff ticket list, a settings tab and the new-ticket email as it arrives over SMTP. Each must show
the words of its language (the glossary's terms) and no English left over."""
from __future__ import annotations

import re
from html import unescape

import pytest

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.services import mailer
from tests.admin.ticket_helpers import in_db, logged_in
from tests.public.conftest import hidden_fields, quick_form  # noqa: F401 (fixture)

LANGS = ("en", "uk", "ru", "bg", "lv")

# Words of English help-desk pages that have no place on a page in another language: function words (they
# show up in any untranslated sentence) and the product's vocabulary (labels, buttons, headings). Matched as
# whole words, case-insensitively, in the text a person reads (tags, scripts and styles removed; placeholder,
# title, aria-label and alt texts kept; <code> left out: setting keys and commands are not prose). "no" and "to"
# are not on the list: they are Latvian words too. The test data below is written so it contains none of them.
ENGLISH = (
    "the", "and", "of", "for", "with", "your", "you", "is", "are", "this", "that", "here", "please",
    "ticket", "tickets", "submit", "submitted", "view", "search", "required", "settings", "save", "subject",
    "message", "category", "priority", "status", "reply", "replies", "customer", "staff", "help desk",
    "knowledgebase", "article", "articles", "email address", "name", "open", "new", "assigned", "owner",
    "updated", "last", "log out", "profile", "language", "time zone", "low", "medium", "high", "critical",
    "waiting", "resolved", "general", "enter", "choose", "select", "all", "filter", "show", "date",
    "yes", "day", "days", "minutes", "hours", "sent", "tracking", "sincerely", "dear",
)
_ENGLISH_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ENGLISH) +
                         r")(?![\w-])", re.IGNORECASE)

# Words each page must show, in the glossary's terms (GLOSSARY.md).
HOME = {"en": ["Submit a ticket", "View a ticket", "Search the knowledgebase"],
        "uk": ["Надіслати заявку", "Переглянути заявку", "Шукати в базі знань"],
        "ru": ["Отправить заявку", "Просмотреть заявку", "Поиск по базе знаний"],
        "bg": ["Подаване на тикет", "Преглед на тикет", "Търсене в базата знания"],
        "lv": ["Iesniegt pieteikumu", "Skatīt pieteikumu", "Meklēt zināšanu bāzē"]}
FORM_ERRORS = {"en": ["Please enter your name.", "Please enter a valid email address."],
               "uk": ["Введіть своє ім'я.", "Введіть дійсну адресу електронної пошти."],
               "ru": ["Введите ваше имя.", "Введите действительный адрес электронной почты."],
               "bg": ["Моля, въведете името си.", "Моля, въведете валиден имейл адрес."],
               "lv": ["Lūdzu, ievadiet savu vārdu.", "Lūdzu, ievadiet derīgu e-pasta adresi."]}
TICKET_LIST = {"en": ["Tickets", "Subject", "Status", "New", "Low", "General"],
               "uk": ["Заявки", "Тема", "Статус", "Нова", "Низький", "Загальне"],
               "ru": ["Заявки", "Тема", "Статус", "Новая", "Низкий", "Общие"],
               "bg": ["Тикети", "Тема", "Статус", "Нов", "Нисък", "Общи"],
               "lv": ["Pieteikumi", "Temats", "Statuss", "Jauns", "Zema", "Vispārīgi"]}
SETTINGS_TAB = {"en": ["Help desk title", "Default language", "Multiple languages"],
                "uk": ["Назва служби підтримки", "Мова за замовчуванням", "Кілька мов"],
                "ru": ["Название службы поддержки", "Язык по умолчанию", "Несколько языков"],
                "bg": ["Заглавие на службата за поддръжка", "Език по подразбиране", "Няколко езика"],
                "lv": ["Palīdzības dienesta nosaukums", "Noklusējuma valoda", "Vairākas valodas"]}
NEW_TICKET_MAIL = {"en": ("Ticket received", ["Your support ticket", "tracking ID", "Sincerely"]),
                   "uk": ("Заявку отримано", ["Вашу заявку", "Ідентифікатор вашої заявки", "З повагою"]),
                   "ru": ("Заявка получена", ["Ваша заявка", "Идентификатор вашей заявки", "С уважением"]),
                   "bg": ("Тикетът е получен", ["Вашият тикет", "номер за проследяване", "С уважение"]),
                   "lv": ("Pieteikums saņemts", ["Jūsu atbalsta pieteikums", "pieteikuma ID", "Ar cieņu"])}

# Test data with no English word in it (see ENGLISH).
CUSTOMER = "Ivan Petrenko"
SUBJECT = "Принтер 3D №7"


def readable_text(html: str) -> str:
    """What a person reads on the page: the body's text and the texts shown for controls."""
    body = html.split("<body", 1)[-1].split(">", 1)[-1]
    body = re.sub(r"<(script|style|code)\b.*?</\1>", " ", body, flags=re.S | re.I)
    shown = " ".join(unescape(v) for v in re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"', body))
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    text = unescape(re.sub(r"<[^>]+>", " ", body))
    return re.sub(r"\s+", " ", " ".join([title.group(1) if title else "", text, shown]))


def english_words(text: str) -> list[str]:
    return sorted({m.group(1).lower() for m in _ENGLISH_RE.finditer(text)})


def assert_in_language(lang: str, text: str, expected: list[str]) -> None:
    for words in expected:
        assert words in text, f"{words!r} missing from the {lang} page"
    if lang != "en":
        leftovers = english_words(text)
        assert not leftovers, f"English on the {lang} page: {leftovers}\n{text[:3000]}"
    else:  # the list does find English: the check cannot pass by accident
        assert len(english_words(text)) >= 5


def _help_desk(app, lang="en"):
    """A help desk whose default language is ``lang``, with what the installer writes in that language (the
    anti-spam question) and a title and website name that are names, not English words."""
    from flask_babel import force_locale

    from install.installer import spam_question

    def save():
        with force_locale(lang):
            ask, answer = spam_question()
        settings.save({"language": lang, "hesk_title": "Acme 24/7", "site_title": "Acme", "question_ask": ask,
                       "question_ans": answer})
        return answer

    return in_db(app, save)


def test_the_english_list_finds_english_and_spares_the_other_languages():
    assert english_words("Submit a ticket, please: the help desk answers.") == \
        ["help desk", "please", "submit", "the", "ticket"]
    assert english_words("Статус: Нова · Pieteikums saņemts · HESK · e-pasts · Zema · UTC+02:00") == []


@pytest.mark.parametrize("lang", LANGS)
def test_home_page(app, client, lang):
    _help_desk(app, lang)
    html = client.get("/").get_data(as_text=True)
    assert f'<html lang="{lang}"' in html
    assert_in_language(lang, readable_text(html), HOME[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_submit_form_with_validation_errors(app, client, quick_form, lang):
    answer = _help_desk(app, lang)
    page = client.get("/submit_ticket?category=1").get_data(as_text=True)
    resp = client.post("/submit_ticket", data={**hidden_fields(page), "name": "", "email": "nie-adrese",
                                               "subject": SUBJECT, "message": "Друкує смуги.",
                                               "question": answer})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'value="nie-adrese"' in html and "Друкує смуги." in html  # what was typed comes back
    assert_in_language(lang, readable_text(html), FORM_ERRORS[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_staff_ticket_list(app, make_user, make_ticket, lang):
    """The help desk speaks English; the staff member chose their own language in their profile."""
    _help_desk(app, "en")
    make_user("olena", is_admin=True, name="Olena Bondar", language=lang)
    make_ticket(name=CUSTOMER, email="ivan@example.com", subject=SUBJECT)
    client = logged_in(app, "olena")
    html = client.get("/admin/").get_data(as_text=True)
    assert SUBJECT in html
    assert_in_language(lang, readable_text(html), TICKET_LIST[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_settings_tab(app, make_user, lang):
    _help_desk(app, "en")
    make_user("olena", is_admin=True, name="Olena Bondar", language=lang)
    client = logged_in(app, "olena")
    html = client.get("/admin/settings/general").get_data(as_text=True)
    assert_in_language(lang, readable_text(html), SETTINGS_TAB[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_new_ticket_email(app, client, quick_form, smtp_server, lang):
    """The customer files the ticket on the page in the help desk's language; the confirmation arrives in it."""
    answer = _help_desk(app, lang)
    page = client.get("/submit_ticket?category=1").get_data(as_text=True)
    resp = client.post("/submit_ticket", data={**hidden_fields(page), "name": CUSTOMER, "email": "ivan@example.com",
                                               "subject": SUBJECT, "message": "Друкує смуги.",
                                               "question": answer})
    assert resp.status_code in (200, 302, 303)
    with app.app_context():
        assert mailer.deliver_due()["sent"] >= 1
    mail = next(m for m in smtp_server.wait_for(1) if m["To"] == "ivan@example.com")
    subject_words, body_words = NEW_TICKET_MAIL[lang]
    assert subject_words in mail["Subject"] and SUBJECT in mail["Subject"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    text = re.sub(r"https?://\S+", " ", body)  # the links are addresses, not words
    assert_in_language(lang, mail["Subject"] + " " + text, body_words)


# --- numbers, sizes and dates in the page's language ----------------------------------------------------

@pytest.mark.parametrize("lang, number, size, month", [("en", "12,345.5", "1.5 KB", "March"),
                                                        ("uk", "12\xa0345,5", "1,5 КБ", "березня"),
                                                        ("ru", "12\xa0345,5", "1,5 КБ", "марта"),
                                                        ("bg", "12\xa0345,5", "1,5 KB", "март"),
                                                        ("lv", "12\xa0345,5", "1,5 KB", "marts")])
def test_numbers_sizes_and_dates_on_the_staff_pages(app, make_user, lang, number, size, month):
    """Counts and sizes are written the language's way (Babel), month names come from its calendar."""
    import secrets
    from datetime import datetime

    from flask_babel import force_locale

    from hesk_py import i18n
    from hesk_py.services import tickets

    with app.test_request_context(), force_locale(lang):
        assert i18n.number(12345.5) == number
        assert i18n.filesize(1536) == size
    make_user("olena", is_admin=True, name="Olena Bondar", language=lang)
    in_db(app, lambda: settings.save({"format_timestamp": "%d %B %Y"}))

    def file_one():
        ticket = tickets.create_ticket(
            name=CUSTOMER, email="ivan@example.com", subject=SUBJECT, message="Друкує смуги.", category_id=1,
            actor=tickets.Actor.customer(CUSTOMER), attachments=[{
                "saved_name": secrets.token_hex(24), "real_name": "zvit.pdf", "size": 1536,
                "content_type": "application/pdf"}])
        ticket.created_at = datetime(2026, 3, 5, 9, 30)
        db.session.commit()
        return ticket.trackid

    trackid = in_db(app, file_one)
    client = logged_in(app, "olena")
    page = unescape(client.get(f"/admin/tickets/{trackid}").get_data(as_text=True))
    assert f'zvit.pdf</a> <span class="hint">({size})</span>' in page
    assert f"05 {month} 2026" in page
