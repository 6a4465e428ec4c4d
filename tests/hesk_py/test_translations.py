"""Translations: every string of code and templates is translated in the four catalogs, placeholders intact,
plural forms right, and the pages people see come out in their language with no English left over."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from sqlalchemy import select

from hesk_py.i18n import TRANSLATIONS
from tests.public.conftest import file_ticket, hidden_fields, open_form, quick_form  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("uk", "ru", "bg", "lv")
NPLURALS = {"uk": 3, "ru": 3, "bg": 2, "lv": 3}
# the glossary's word for "ticket" (a stem, so every case form matches)
TICKET = {"uk": "заявк", "ru": "заявк", "bg": "тикет", "lv": "pieteikum"}
PLACEHOLDER = re.compile(r"%\([A-Za-z0-9_]+\)[sdif]|%[sdif]|\{[A-Za-z0-9_]*\}|%%[A-Z0-9_]+%%")


@pytest.fixture(scope="module")
def template():
    """The strings in the code and templates today, extracted the way `hesk-py i18n extract` does."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            CommandLineInterface().run(["pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k",
                                        "lazy_gettext", "--no-location", "-o", str(pot), "."])
        finally:
            os.chdir(cwd)
        with pot.open("rb") as fh:
            return read_po(fh)


def _catalog(lang):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_the_template_finds_the_strings(template):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert len(ids) > 1500
    assert "Submit a ticket" in ids
    assert any(isinstance(m.id, tuple) for m in template), "no plural strings were found"


@pytest.mark.parametrize("lang", LANGS)
def test_plural_forms_follow_the_language(lang):
    import gettext

    catalog = _catalog(lang)
    assert catalog.num_plurals == NPLURALS[lang]
    plural = gettext.c2py(catalog.plural_expr)
    # one, few, many: Ukrainian and Russian say 1 заявка, 2 заявки, 5 заявок (index 0, 1, 2)
    if lang in ("uk", "ru"):
        assert [plural(n) for n in (1, 2, 5, 11, 21, 22, 25)] == \
            [0, 1, 2, 2, 0, 1, 2]
    elif lang == "lv":
        assert [plural(n) for n in (0, 1, 2, 11, 21)] == [2, 0, 1, 1, 0]
    else:
        assert [plural(n) for n in (1, 2, 5)] == [0, 1, 1]


@pytest.mark.parametrize("lang, expected", [("uk", "05 березня 2026, чт"), ("ru", "05 марта 2026, чт"),
                                             ("bg", "05 март 2026, чт"), ("lv", "05 marts 2026, ceturtd."),
                                             ("en", "05 March 2026, Thu")])
def test_dates_use_the_languages_month_and_day_names(app, lang, expected):
    from datetime import datetime

    from flask_babel import force_locale

    from hesk_py import i18n

    with app.test_request_context(), force_locale(lang):
        assert i18n.strftime(datetime(2026, 3, 5, 14, 0), "%d %B %Y, %a") == expected


def test_catalogs_are_compiled_when_the_app_starts(tmp_path):
    """A fresh checkout has only .po files: the app compiles them, and again when a .po changes."""
    import os
    import shutil

    from hesk_py import i18n

    mo = TRANSLATIONS / "uk" / "LC_MESSAGES" / "messages.mo"
    po = mo.with_suffix(".po")
    backup = tmp_path / "messages.mo"
    if mo.exists():
        shutil.copy2(mo, backup)
    try:
        mo.unlink(missing_ok=True)
        dirs = i18n.compile_catalogs(tmp_path / "instance")
        assert str(TRANSLATIONS) in dirs and mo.exists()
        os.utime(mo, (po.stat().st_mtime - 10, po.stat().st_mtime - 10))
        before = mo.stat().st_mtime
        i18n.compile_catalogs(tmp_path / "instance")
        assert mo.stat().st_mtime > before
    finally:
        if backup.exists():
            shutil.copy2(backup, mo)
