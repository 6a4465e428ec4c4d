"""The installer in Ukrainian: the language picked on its first page is the language of every step, the
help desk's default language and the administrator's, and what the installer seeds (title, website name,
anti-spam question, statuses, priorities, category) reads in it."""
from __future__ import annotations

import re
from html import unescape

import pytest

from tests.install.conftest import DB_KINDS, Wizard, helpdesk_fields, input_value


def _page(resp) -> str:
    return unescape(resp.get_data(as_text=True))


@pytest.mark.parametrize("kind", DB_KINDS)
def test_the_installer_in_ukrainian_makes_a_ukrainian_help_desk(instance, make_database, kind):
    settings = make_database(kind)
    wizard = Wizard(instance)
    first = _page(wizard.get("/install/", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert '<html lang="en"' in first and "Українська" in first
    wizard.post("/install/", {"language": "uk", "apply_language": "x"})
    welcome = _page(wizard.get("/install/"))
    assert '<html lang="uk"' in welcome and "Встановлення служби підтримки" in welcome
    wizard.welcome(language="uk")
    server = _page(wizard.get("/install/server"))
    assert '<html lang="uk"' in server
    wizard.server()
    assert '<html lang="uk"' in _page(wizard.get("/install/database"))
    wizard.database(settings)
    helpdesk = wizard.get("/install/helpdesk").get_data(as_text=True)
    assert '<html lang="uk"' in helpdesk
    # the help desk's default language is the one chosen, and the title is offered in it
    assert re.search(r'<option[^>]*(selected[^>]*value="uk"|value="uk"[^>]*selected)', helpdesk)
    title = unescape(input_value(helpdesk, "title"))
    assert title == "Служба підтримки"
    wizard.helpdesk(**helpdesk_fields(language="uk", title=title))
    done = unescape(wizard.install())
    assert '<html lang="uk"' in done

    # installed: customers see Ukrainian, with the seeded texts in Ukrainian
    home = _page(wizard.get("/"))
    assert '<html lang="uk"' in home
    for words in ("Служба підтримки", "Вебсайт", "Надіслати заявку", "Переглянути заявку"):
        assert words in home, words
    form = _page(wizard.get("/submit_ticket?category=1"))
    assert "Загальне" in form  # the seeded category
    assert "Низький" in form and "Середній" in form  # the seeded priorities
    # the administrator reads the panel in Ukrainian, with the seeded statuses in it
    token = wizard.token("/admin/login")
    resp = wizard.post("/admin/login", {"username": "ada", "password": helpdesk_fields()["admin_password"],
                                        "csrf_token": token})
    assert resp.status_code == 302
    panel = _page(wizard.get("/admin/"))
    assert '<html lang="uk"' in panel
    for words in ("Заявки", "Нова", "Очікує відповіді", "Вирішена", "Критичний"):
        assert words in panel, words
    general = _page(wizard.get("/admin/settings/general"))
    assert re.search(r'<option[^>]*(selected[^>]*value="uk"|value="uk"[^>]*selected)', general)
    # the anti-spam question was written in Ukrainian
    spam = _page(wizard.get("/admin/settings/help_desk"))
    question = re.search(r'name="question_ask"[^>]*value="([^"]*)"|name="question_ask"[^>]*>([^<]*)<', spam)
    assert question and re.search(r"[а-яіїєґ]", (question.group(1) or question.group(2) or "").lower()), spam[:200]


@pytest.mark.parametrize("kind", DB_KINDS)
def test_hesk_py_install_in_latvian_prints_latvian_and_names_the_help_desk_in_it(instance, tmp_path, make_database,
                                                                                kind):
    from hesk_py import create_app
    from tests.install.conftest import ADMIN_PASSWORD, uninstalled_config

    settings = make_database(kind)
    password_file = tmp_path / "pw.txt"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    app = create_app(uninstalled_config(instance))
    result = app.test_cli_runner().invoke(args=[
        "install", "--db-url", settings.url_string(), "--admin-user", "janis", "--admin-email", "janis@acme.example",
        "--admin-password-file", str(password_file), "--url", "https://desk.example", "--language", "lv"])
    assert result.exit_code == 0, result.output
    assert "Pārbauda datubāzi" in result.output and "Checking the database" not in result.output
    installed = create_app(uninstalled_config(instance))
    with installed.app_context():
        from hesk_py import settings as desk

        assert desk.get("language") == "lv"
        assert desk.get("hesk_title") == "Palīdzības dienests"
        assert desk.get("site_title") == "Tīmekļa vietne"
        from hesk_py.extensions import db

        db.engine.dispose()
