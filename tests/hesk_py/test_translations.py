"""Translations: every string of code and templates is translated in the four catalogs, placeholders intact,
plural forms right, and the pages people see come out in their language with no English left over
(the pages: test_i18n_pages.py; choosing the language: test_i18n_language_choice.py)."""
from __future__ import annotations

import gettext
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from hesk_py.i18n import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("uk", "ru", "bg", "lv")
NPLURALS = {"uk": 3, "ru": 3, "bg": 2, "lv": 3}
# What a translation must carry over exactly: %-placeholders (named or not), literal %%, HESK's %%TAGS%%,
# {braces} placeholders and HTML tags (attributes included).
TOKEN = re.compile(r"%\([A-Za-z0-9_]+\)[-#0 +]*\d*(?:\.\d+)?[sdifrx]|%%[A-Z0-9_]+%%|%%|%[sdif]"
                   r"|\{[A-Za-z0-9_]*\}|</?[A-Za-z][^<>]*>")


def _extract() -> "Catalog":  # noqa: F821
    """The strings in the code and templates today, extracted the way `hesk-py i18n extract` does."""
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        cwd = os.getcwd()
        os.chdir(ROOT)
        try:
            # "--ignore-dirs .*": Babel would otherwise skip folders starting with "_" (templates/_macros)
            CommandLineInterface().run(["pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k",
                                        "lazy_gettext", "--ignore-dirs", ".*", "-o", str(pot), "."])
        finally:
            os.chdir(cwd)
        with pot.open("rb") as fh:
            return read_po(fh)


@pytest.fixture(scope="module")
def template():
    return _extract()


def _catalog(lang, domain="messages"):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as fh:
        return read_po(fh)


def _tokens(text: str) -> Counter:
    return Counter(TOKEN.findall(text))


def _where(message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:2])


def _untranslated(message) -> bool:
    s = message.string
    return message.fuzzy or not s or (isinstance(s, (tuple, list)) and not all(s))


def test_the_template_finds_the_strings(template):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert len(ids) > 1500
    assert "Submit a ticket" in ids
    assert any(isinstance(m.id, tuple) for m in template), "no plural strings were found"
    # every place a user reads text is covered: emails, the installer, the CLI, settings [?] help, seeded data
    for expected in ("Your support ticket \"%(subject)s\" has been submitted.",  # templates/email/*.txt
                     "[#%(trackid)s] Ticket received: %(subject)s",  # email subjects
                     "Install your help desk",  # the installer
                     "Serving the help desk at %(url)s (%(p)s processes, %(t)s threads each)",  # the CLI
                     "Help desk title", "Waiting reply", "Critical", "General",  # settings, seeded rows
                     "Use codes sent to %(email)s"):  # templates/_macros/ (a folder starting with "_")
        assert expected in ids, expected


@pytest.mark.parametrize("lang", LANGS)
def test_every_string_is_translated(template, lang):
    """A string added to the code or a template without its translation (or left fuzzy) fails here:
    run `hesk-py i18n extract`, `hesk-py i18n update` and translate it."""
    catalog = _catalog(lang)
    missing = []
    for message in template:
        if not message.id:
            continue
        ours = catalog.get(message.id)
        if ours is None or _untranslated(ours):
            missing.append(f"{message.id!r} ({_where(message)})")
    assert not missing, f"{len(missing)} strings untranslated in {lang}:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_every_placeholder_tag_and_html(template, lang):
    """%(name)s, %s, {count}, %%TAGS%%, %% and HTML tags come out of each translation exactly as they went in.
    A plural form used for n == 1 alone (Bulgarian's first) may leave the number out, as English does."""
    catalog = _catalog(lang)
    plural = gettext.c2py(catalog.plural_expr)
    only_one = {i for i in range(catalog.num_plurals) if {n for n in range(1000) if plural(n) == i} == {1}}
    wrong = []
    for message in template:
        ours = catalog.get(message.id) if message.id else None
        if ours is None or _untranslated(ours):
            continue
        if isinstance(message.id, tuple):
            singular, plural_tokens = _tokens(message.id[0]), _tokens(message.id[1])
            assert len(ours.string) == NPLURALS[lang], message.id
            for i, form in enumerate(ours.string):
                got = _tokens(form)
                if got != plural_tokens and not (i in only_one and got == singular):
                    wrong.append(f"{message.id[1]!r} form {i}: {form!r}")
        elif _tokens(ours.string) != _tokens(message.id):
            wrong.append(f"{message.id!r}: {ours.string!r}")
    assert not wrong, f"placeholders changed in {lang}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_format_like_the_original(template, lang):
    """Each translation formats with the same arguments as its English original (no stray %)."""
    catalog = _catalog(lang)
    broken = []
    for message in template:
        ours = catalog.get(message.id) if message.id else None
        if ours is None or _untranslated(ours) or "python-format" not in message.flags:
            continue
        source = message.id[-1] if isinstance(message.id, tuple) else message.id
        names = dict.fromkeys(re.findall(r"%\(([A-Za-z0-9_]+)\)", source), 3)
        try:
            source % (names or ())
        except (TypeError, ValueError, KeyError):  # "strftime codes such as %Y-%m-%d": never %-formatted
            continue
        for form in ours.string if isinstance(ours.string, tuple) else (ours.string,):
            try:
                form % (names or ())
            except (TypeError, ValueError, KeyError) as exc:
                broken.append(f"{form!r}: {exc}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("lang", LANGS)
def test_wtforms_own_messages_are_translated(lang):
    """WTForms' messages ("Not a valid integer value.") in every language: WTForms' catalog, completed by ours."""
    from wtforms.i18n import messages_path

    with (Path(messages_path()) / "wtforms.pot").open("rb") as fh:
        wanted = [m.id for m in read_po(fh) if m.id]
    theirs_po = Path(messages_path()) / lang / "LC_MESSAGES" / "wtforms.po"
    theirs = read_po(theirs_po.open("rb")) if theirs_po.exists() else None
    ours = _catalog(lang, "wtforms") if (TRANSLATIONS / lang / "LC_MESSAGES" / "wtforms.po").exists() else None
    missing = [msgid for msgid in wanted
               if not any(cat is not None and cat.get(msgid) is not None and not _untranslated(cat.get(msgid))
                          for cat in (ours, theirs))]
    assert not missing, missing


@pytest.mark.parametrize("lang, expected", [("uk", "Недійсне ціле число."), ("bg", "Невалидна стойност за час."),
                                             ("lv", "Nederīga vesela skaitļa vērtība."),
                                             ("ru", "Это поле нельзя изменить.")])
def test_wtforms_messages_reach_the_form(app, lang, expected):
    """The translations a form really uses: WTForms' catalog with ours in front."""
    from flask_babel import force_locale

    from hesk_py.i18n import _WtformsTranslations

    source = {"uk": "Not a valid integer value.", "bg": "Not a valid time value.",
              "lv": "Not a valid integer value.", "ru": "This field cannot be edited."}[lang]
    with app.test_request_context(), force_locale(lang):
        assert expected in _WtformsTranslations().ugettext(source)


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
