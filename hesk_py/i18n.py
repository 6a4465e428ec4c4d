"""Languages: which locale and time zone a request is shown in, and the compiled catalogs.

The catalogs are gettext ``.po`` files in ``hesk_py/translations/<lang>/LC_MESSAGES/`` (English is the source
language and has none). They are compiled to ``.mo`` when the app starts and a ``.po`` is newer than its
``.mo``, so a fresh checkout or an unpacked release needs no extra command; when the package folder is read-only
the ``.mo`` files go to ``instance/translations`` instead. ``hesk-py i18n extract|update|compile`` maintains them.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from flask import current_app, g, request, session

LANGUAGES = {
    "en": "English",
    "uk": "Українська",
    "ru": "Русский",
    "bg": "Български",
    "lv": "Latviešu",
}
LANGUAGE_COOKIE = "hesk_language"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAINS = ("messages", "wtforms")

log = logging.getLogger(__name__)


def _stale(po: Path, mo: Path) -> bool:
    try:
        return mo.stat().st_mtime < po.stat().st_mtime
    except FileNotFoundError:
        return True


def compile_catalog(po: Path, mo: Path) -> None:
    """Compile one ``.po`` into ``.mo`` (written aside and renamed, so a reader never sees half a file)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh)
    mo.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog)
        os.replace(tmp, mo)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compile_catalogs(instance_path: str | os.PathLike | None = None, *, force: bool = False) -> list[str]:
    """Compile every stale catalog; return the translation directories Flask-Babel should read."""
    fallback = Path(instance_path) / "translations" if instance_path else None
    use_fallback = False
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not (force or _stale(po, mo)):
            continue
        try:
            compile_catalog(po, mo)
        except OSError:
            if fallback is None:
                raise
            target = fallback / po.relative_to(TRANSLATIONS).with_suffix(".mo")
            if force or _stale(po, target):
                compile_catalog(po, target)
            use_fallback = True
    if fallback is not None and (use_fallback or any(fallback.glob("*/LC_MESSAGES/*.mo"))):
        return [str(fallback), str(TRANSLATIONS)]
    return [str(TRANSLATIONS)]


_WTFORMS_CATALOGS: dict = {}


def _wtforms_catalog(locale: str):
    """WTForms' catalog for a locale, read from disk once per process (like Flask-Babel's own catalogs: the
    ``.mo`` files are compiled before the app starts)."""
    found = _WTFORMS_CATALOGS.get(locale)
    if found is None:
        from babel import support
        from wtforms.i18n import messages_path

        ours = support.Translations.load(str(TRANSLATIONS), [locale], domain="wtforms")
        theirs = support.Translations.load(messages_path(), [locale], domain="wtforms")
        if isinstance(ours, support.Translations):
            if isinstance(theirs, support.Translations):
                ours.add_fallback(theirs)
            found = ours
        else:
            found = theirs
        _WTFORMS_CATALOGS[locale] = found
    return found


def _request_translations():
    """Flask-Babel's catalog for the request's locale, looked up once per locale and app context (templates
    call ``_()`` dozens of times per page; ``force_locale`` changes the locale object, so it is noticed)."""
    from flask_babel import get_translations

    ctx = g.get("_flask_babel")
    locale = getattr(ctx, "babel_locale", None)
    memo = g.get("_hesk_translations")
    if memo is not None and locale is not None and memo[0] is locale:
        return memo[1]
    translations = get_translations()
    g._hesk_translations = (getattr(g.get("_flask_babel"), "babel_locale", None), translations)
    return translations


def _jinja_gettext():
    """Jinja's ``_()``/``gettext`` as Flask-Babel installs it (newstyle: the string is always %-formatted with
    the variables, escaped), with the catalog looked up once per request."""
    from jinja2 import pass_context
    from markupsafe import Markup

    @pass_context
    def gettext(__context, __string, **variables):
        rv = _request_translations().ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return gettext


class _WtformsTranslations:
    """WTForms' own messages ("Not a valid integer value.") in the request's language.

    WTForms ships bg, ru and uk; our catalogs add what it lacks (lv). Loaded on first use per request.
    """

    def __init__(self):
        self._loaded = None

    def _get(self):
        if self._loaded is None:
            from flask_babel import get_locale

            self._loaded = _wtforms_catalog(str(get_locale()))
        return self._loaded

    def ugettext(self, string):
        return self._get().ugettext(string)

    def ungettext(self, singular, plural, n):
        return self._get().ungettext(singular, plural, n)


def _setting(key, fallback):
    if not current_app.config.get("HESK_INSTALLED"):
        return fallback
    from hesk_py import settings

    try:
        return settings.get(key)
    except Exception:  # database down: the error page still renders
        return fallback


def select_locale() -> str:
    user_lang = g.get("hesk_user_language")
    if user_lang in LANGUAGES:
        return user_lang
    if request:
        chosen = request.args.get("language") or session.get("language") or request.cookies.get(LANGUAGE_COOKIE)
        if chosen in LANGUAGES and (not current_app.config.get("HESK_INSTALLED") or _setting("can_sel_lang", False)):
            return chosen
    default = _setting("language", "en")
    if not current_app.config.get("HESK_INSTALLED") and request:
        return request.accept_languages.best_match(list(LANGUAGES)) or "en"
    return default if default in LANGUAGES else "en"


_NAMED = re.compile(r"%%|%[aAbBp]")


def strftime(value, fmt: str) -> str:
    """``value.strftime(fmt)`` with day and month names (%a %A %b %B) and AM/PM (%p) in the request's
    language (Babel's data), so HESK's strftime-style date settings read right in every language."""
    from flask_babel import get_locale

    locale = get_locale()
    if locale is None or locale.language == "en" or not _NAMED.search(fmt):
        return value.strftime(fmt)

    def named(match) -> str:
        code = match.group(0)
        if code == "%%":
            return code
        kind = code[1]
        if kind in "aA":
            text = locale.days["format"]["abbreviated" if kind == "a" else "wide"][value.weekday()]
        elif kind in "bB":
            text = locale.months["format"]["abbreviated" if kind == "b" else "wide"][value.month]
        else:
            text = locale.periods["am" if value.hour < 12 else "pm"]
        return text.replace("%", "%%")

    return value.strftime(_NAMED.sub(named, fmt))


def select_timezone() -> str:
    return _setting("timezone", "UTC")


def number(value) -> str:
    """A count or measure as the request's language writes it (Babel): 12,345.5 in English, 12 345,5 in
    Ukrainian, Russian, Bulgarian and Latvian."""
    from flask_babel import format_decimal

    if value is None:
        return ""
    return format_decimal(value)


def filesize(size: int | None) -> str:
    """A file size for people: bytes, KB or MB with one decimal, in the request's language."""
    from flask_babel import gettext as _
    from flask_babel import ngettext

    size = int(size or 0)
    if size < 1024:
        return ngettext("%(num)s byte", "%(num)s bytes", size)  # under 1024: no digit grouping
    if size < 1024 * 1024:
        return _("%(n)s KB", n=number(round(size / 1024, 1)))
    return _("%(n)s MB", n=number(round(size / 1024 / 1024, 1)))


def _jinja_ngettext():
    """Jinja's ``ngettext`` with the count written in the page's language (``%(num)s`` is 1 234, not 1234);
    otherwise what Flask-Babel installs (the plural form chosen by the number, variables escaped)."""
    from jinja2 import pass_context
    from markupsafe import Markup

    @pass_context
    def ngettext(__context, __singular, __plural, __num, **variables):
        variables.setdefault("num", number(__num))
        rv = _request_translations().ungettext(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return ngettext


def init_app(app) -> None:
    from hesk_py.services.defaults import label

    from flask_babel import get_locale, get_timezone

    app.jinja_env.globals.update(status_name=label, priority_name=label, category_name=label,
                                 get_locale=get_locale, get_timezone=get_timezone, ngettext=_jinja_ngettext(),
                                 gettext=_jinja_gettext())
    app.jinja_env.filters.update(number=number, filesize=filesize)

    @app.before_request
    def _wtforms_translations():
        # Flask-WTF looks for this attribute before loading WTForms' catalogs itself
        request.wtforms_translations = _WtformsTranslations()

    @app.context_processor
    def _languages():
        return {"hesk_languages": LANGUAGES}
