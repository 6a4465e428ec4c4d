"""Languages: which locale and time zone a request is shown in."""
from __future__ import annotations

from flask import current_app, g, request, session

LANGUAGES = {
    "en": "English",
    "uk": "Українська",
    "ru": "Русский",
    "bg": "Български",
    "lv": "Latviešu",
}
LANGUAGE_COOKIE = "hesk_language"


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


def select_timezone() -> str:
    return _setting("timezone", "UTC")


def init_app(app) -> None:
    from hesk_py.services.defaults import label

    from flask_babel import get_locale, get_timezone

    app.jinja_env.globals.update(status_name=label, priority_name=label, category_name=label,
                                 get_locale=get_locale, get_timezone=get_timezone)

    @app.context_processor
    def _languages():
        return {"hesk_languages": LANGUAGES}
