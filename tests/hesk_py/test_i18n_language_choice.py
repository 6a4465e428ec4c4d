"""Who chooses the language, end to end: the default ``language`` setting, the customers' language menu
(``can_sel_lang``, remembered in a cookie), each staff member's own language, and the ticket's language,
which every email to its customer uses (falling back to the default). The installer's choice is tested in
tests/install/test_i18n.py."""
from __future__ import annotations

from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import OutboxMessage, Ticket
from hesk_py.models.workflow import STATUS_REPLIED, STATUS_RESOLVED
from hesk_py.services import mailer
from tests.admin.ticket_helpers import act, in_db, logged_in, post
from tests.public.conftest import hidden_fields, quick_form  # noqa: F401 (fixture)


def _save(app, **values):
    in_db(app, lambda: settings.save(values))


def _answer(app) -> str:
    return in_db(app, lambda: settings.get("question_ans"))


def _file(client, app, *, email="oksana@example.com", subject="Принтер 3D №7"):
    page = client.get("/submit_ticket?category=1").get_data(as_text=True)
    resp = client.post("/submit_ticket", data={**hidden_fields(page), "name": "Oksana Koval", "email": email,
                                               "subject": subject, "message": "Друкує смуги.",
                                               "question": _answer(app)})
    assert resp.status_code in (200, 302, 303), resp.get_data(as_text=True)[:2000]
    return resp


def _ticket(app, email) -> tuple[str, str | None]:
    """(tracking ID, language) of the ticket of ``email``."""
    return in_db(app, lambda: tuple(db.session.execute(select(Ticket.trackid, Ticket.language)
                                                       .where(Ticket.email == email)).one()))


def _deliver(app, smtp_server, n):
    with app.app_context():
        mailer.deliver_due()
    return smtp_server.wait_for(n)


def _for(mails, to, subject_part):
    found = [m for m in mails if m["To"] == to and subject_part in m["Subject"]]
    assert found, [(m["To"], m["Subject"]) for m in mails]
    return found[-1]


# --- the default language --------------------------------------------------------------------------------

def test_the_default_language_is_the_language_of_every_page_until_someone_chooses(app, client, admin):
    _save(app, language="bg")
    for url in ("/", "/submit_ticket?category=1", "/ticket", "/forgot_tracking_id", "/admin/login"):
        html = client.get(url).get_data(as_text=True)
        assert '<html lang="bg"' in html, url
    assert "Подаване на тикет" in client.get("/").get_data(as_text=True)
    admin_client = logged_in(app, "admin")  # no language of their own: the default
    assert '<html lang="bg"' in admin_client.get("/admin/").get_data(as_text=True)


# --- the customers' language menu ------------------------------------------------------------------------

def test_the_menu_shows_each_language_in_its_own_name_and_the_choice_is_remembered(app, client):
    _save(app, language="ru", can_sel_lang=True)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="ru"' in html
    for name in ("English", "Українська", "Русский", "Български", "Latviešu"):
        assert name in html
    fields = hidden_fields(html)
    resp = client.post("/language", data={**fields, "language": "lv"})
    assert resp.status_code == 302
    cookie = client.get_cookie("hesk_language")
    assert cookie.value == "lv" and cookie.http_only
    assert cookie.expires is not None  # kept after the browser closes, for a year
    # every later page, in a new visit with the cookie, is Latvian
    for url in ("/", "/submit_ticket?category=1", "/ticket", "/forgot_tracking_id"):
        html = client.get(url).get_data(as_text=True)
        assert '<html lang="lv"' in html, url
    assert "Iesniegt pieteikumu" in client.get("/").get_data(as_text=True)
    other = app.test_client()  # another browser has no cookie: the default
    assert '<html lang="ru"' in other.get("/").get_data(as_text=True)


def test_the_cookie_counts_only_while_customers_may_choose(app, client):
    _save(app, language="ru", can_sel_lang=True)
    client.post("/language", data={**hidden_fields(client.get("/").get_data(as_text=True)), "language": "uk"})
    assert '<html lang="uk"' in client.get("/").get_data(as_text=True)
    _save(app, can_sel_lang=False)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="ru"' in html and 'action="/language"' not in html


# --- each staff member's own language --------------------------------------------------------------------

def test_a_staff_member_reads_the_panel_and_their_mail_in_their_own_language(app, client, quick_form, make_user,
                                                                              smtp_server):
    _save(app, language="ru", autoassign=False)  # unassigned: each staff member gets "new ticket"
    make_user("olena", is_admin=True, name="Olena Bondar", language="uk")
    make_user("petar", is_admin=True, name="Petar Ivanov", language="bg")
    olena = logged_in(app, "olena")
    assert '<html lang="uk"' in olena.get("/admin/").get_data(as_text=True)
    assert "Заявки" in olena.get("/admin/").get_data(as_text=True)
    # she changes it in her profile: from the next page on, the panel is Latvian
    page = olena.get("/admin/profile").get_data(as_text=True)
    assert 'value="uk" selected' in page or 'selected value="uk"' in page
    from tests.admin.test_profile import profile_data

    resp = post(olena, "/admin/profile", profile_data(name="Olena Bondar", email="olena@example.com",
                                                      language="lv"))
    assert resp.status_code == 302
    assert '<html lang="lv"' in olena.get("/admin/").get_data(as_text=True)
    # a new ticket: each staff member is told in their own language
    _file(client, app)
    mails = _deliver(app, smtp_server, 3)
    assert "Iesniegts jauns pieteikums" in _for(mails, "olena@example.com", "[#")["Subject"]
    assert "Подаден е нов тикет" in _for(mails, "petar@example.com", "[#")["Subject"]


# --- the ticket's language and the customer's emails ------------------------------------------------------

def test_every_email_to_the_customer_is_in_the_language_of_their_ticket(app, client, quick_form, admin,
                                                                         smtp_server):
    """Filed in Ukrainian on a Russian help desk, answered by an administrator who reads Russian: the
    confirmation, the reply notice, the resolved notice and the forgotten tracking ID are all Ukrainian."""
    _save(app, language="ru", can_sel_lang=True)
    client.set_cookie("hesk_language", "uk")
    resp = _file(client, app)
    assert "Заявку надіслано" in resp.get_data(as_text=True) or resp.status_code in (302, 303)
    trackid, language = _ticket(app, "oksana@example.com")
    assert language == "uk"
    mails = _deliver(app, smtp_server, 2)
    confirmation = _for(mails, "oksana@example.com", trackid)
    assert "Заявку отримано" in confirmation["Subject"]
    assert "Ідентифікатор вашої заявки" in confirmation.get_body(("plain",)).get_content()

    staff = logged_in(app, "admin")  # the administrator has no language of their own: the default, Russian
    assert '<html lang="ru"' in staff.get("/admin/").get_data(as_text=True)
    resp = act(staff, trackid, "reply", {"message": "Замініть картридж.", "status": str(STATUS_REPLIED),
                                                "priority": "0", "notify": "y", "submit": "Submit reply"})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:2000]
    mails = _deliver(app, smtp_server, 3)
    notice = _for(mails, "oksana@example.com", "Нова відповідь")
    assert "Наш співробітник щойно відповів" in notice.get_body(("plain",)).get_content()

    resp = act(staff, trackid, "status", {"status": str(STATUS_RESOLVED)})
    assert resp.status_code in (302, 303)
    mails = _deliver(app, smtp_server, 4)
    closed = _for(mails, "oksana@example.com", "вирішено")
    assert "Вашу заявку" in closed.get_body(("plain",)).get_content()

    # "forgot tracking ID" is asked on a page: that page's language
    html = client.get("/forgot_tracking_id").get_data(as_text=True)
    client.post("/forgot_tracking_id", data={**hidden_fields(html), "email": "oksana@example.com",
                                             "open_only": "0"})
    mails = _deliver(app, smtp_server, 5)
    listed = _for(mails, "oksana@example.com", "Ваші заявки")
    assert trackid in listed.get_body(("plain",)).get_content()


def test_a_ticket_without_a_language_is_answered_in_the_default(app, admin, make_ticket, smtp_server):
    """A ticket that came by email (or from staff) has no language: its mail follows the default, today's."""
    _save(app, language="bg")
    trackid = make_ticket(email="nika@example.com", language=None)
    with app.app_context():
        assert db.session.scalar(select(Ticket.language).where(Ticket.trackid == trackid)) is None
        queued = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "nika@example.com"))
        assert queued is not None and queued.language is None
    _save(app, language="lv")  # the default changed before the mail went out: the new default is used
    mails = _deliver(app, smtp_server, 1)
    assert "Pieteikums saņemts" in _for(mails, "nika@example.com", trackid)["Subject"]
    staff = logged_in(app, "admin")
    act(staff, trackid, "reply", {"message": "Labi.", "status": str(STATUS_REPLIED), "priority": "0",
                                  "notify": "y", "submit": "Submit reply"})
    mails = _deliver(app, smtp_server, 2)
    assert "Jauna atbilde" in _for(mails, "nika@example.com", "[#")["Subject"]
