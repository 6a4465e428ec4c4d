"""The help desk settings: every key declared once, with its default, type, bounds, tab, group and [?] help.

This module is the only code that touches the ``hesk_settings`` table. Keys are HESK's where HESK has
the setting (reference/HESK.md §4); nested HESK keys use dotted names (``attachments.max_size``).
Only values that differ from the default are stored (as JSON); saving a value equal to the default
deletes its row. Reading is strict: an unknown key raises ``UnknownSetting``. The stored overrides are
cached per process (``hesk_py/shared_cache.py`` explains when a change shows elsewhere: at once on this
machine, within ``[cache] check_seconds`` on other app servers).
Secrets (``secret=True``: the SMTP, IMAP and POP3 passwords) are stored encrypted with a key derived
from the bootstrap config's secret key; changing that key makes them unreadable (they read as empty
and the settings status box says so) until they are typed again.

Saving checks every value on its own (type, bounds, format) and then the rules between settings
(``_RULES`` at the bottom: at least one anti-spam measure while customers can submit tickets, a host
when SMTP/IMAP/POP3 is on, ...). Nothing is written when anything is refused.

Where hesk_py differs from HESK:
* ``attachments.max_size`` is in kilobytes (HESK stores bytes); date and time formats use Python's
  ``strftime`` codes (``%Y-%m-%d``) instead of PHP ``date()`` letters.
* HESK's two "Customer accounts" radios write three derived keys; hesk_py stores the radio values:
  ``customer_accounts`` (0 off, 1 optional, 2 required to submit, 3 required to access) and
  ``customer_accounts_registration`` (0 customers register, 1 register and staff approve, 2 only staff).
* HESK's Look & Feel colour pickers (``theme_overrides``) become one accent colour
  (``theme_overrides.primary``); its custom header/footer files become ``custom_header`` and
  ``custom_footer`` (sanitised HTML); the logo upload (``site_logo``) is a hesk_py addition.
* Barcodes on printed tickets are QR codes (segno); HESK's linear barcode types need its PHP library.
* ``url_key`` empty turns the cron URL (``/cron?key=...``) off; HESK then runs its cron scripts for anyone.
* "Rich text" is Markdown (the knowledgebase's renderer and sanitiser), not TinyMCE's HTML: with
  ``staff_ticket_formatting`` 2 staff replies are Markdown, stored as typed with their format; ``kb_wysiwyg``
  gives the (always Markdown) article editor a toolbar and a preview.
* The idle time of staff sessions is the bootstrap option ``[security] session_idle_minutes`` (HESK has no
  setting: it uses PHP's session lifetime); ``extend_admin`` makes open pages ping instead of HESK's frame.
* ``debug_mode`` shows administrators the error behind a 500 page (secrets removed), not PHP and SQL errors
  to everyone; the users-online list (``online``) is on the staff home page, not in every page's footer.

HESK settings left out because they do not apply to a Python app:
* ``db_host``, ``db_name``, ``db_user``, ``db_pass``, ``db_pfix`` (General tab): the database is chosen
  before the settings table can be read, so it lives in the bootstrap config (``[database] url``).
* ``admin_dir``, ``attach_dir``, ``cache_dir`` (Help desk tab): URLs come from blueprints, and the
  attachments folder is a bootstrap option (``[paths] attachments``); there is no file cache.
* ``site_theme`` and its "Test theme folder" button: there are no PHP template folders to choose from.
* ``admin_css``/``admin_css_url``, ``admin_js``/``admin_js_url``: the Content-Security-Policy only loads
  the help desk's own files, and a script from elsewhere would run with staff rights.
* The language pack manager (downloads from hesk.com): translations ship inside the package.
* ``recaptcha_use``, ``recaptcha_public_key``, ``recaptcha_private_key``: Google's script breaks the
  "works offline, no third-party scripts" rule; the built-in image and the question remain.
* ``secimg_sum`` (random CAPTCHA salt): CAPTCHA answers are signed with the secret key instead.
* ``smtp_conn_type``, ``smtp_oauth_provider``, ``imap_conn_type``, ``imap_oauth_provider``,
  ``pop3_conn_type``, ``pop3_oauth_provider``: OAuth mail login needs HESK's OAuth providers tool, which
  hesk_py does not have; logins are username and password.
* ``imap_disable_GSSAPI``: a work-around for PHP's imap extension; IMAPClient never tries Kerberos.
* ``format_datepicker_js``/``format_datepicker_php``: date fields are the browser's own date picker,
  which follows the user's locale.
* ``check_updates`` (no calls to hesk.com), the Misc tools "Purge the cache" and "Rebuild production
  assets" (no cache, no build step), ``hesk_version`` (the package version), ``languages`` (the
  installed translations) and HESK's demo mode.
"""
from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from hesk_py import shared_cache
from hesk_py.extensions import db

TABS = ("general", "help_desk", "look", "knowledgebase", "email", "ticket_list", "misc")
TAB_LABELS = {
    "general": _l("General"),
    "help_desk": _l("Help desk"),
    "look": _l("Look & feel"),
    "knowledgebase": _l("Knowledgebase"),
    "email": _l("Email"),
    "ticket_list": _l("Ticket list"),
    "misc": _l("Misc"),
}
# Groups in the order they appear on their tab.
GROUPS = {
    "general": _l("General settings"),
    "language": _l("Language"),
    "help_desk": _l("Help desk settings"),
    "features": _l("Features"),
    "barcode": _l("Barcode"),
    "customer_accounts": _l("Customer accounts"),
    "spam": _l("SPAM prevention"),
    "security": _l("Security"),
    "attachments": _l("Attachments"),
    "theme": _l("Colours and logo"),
    "custom_html": _l("Custom HTML"),
    "knowledgebase": _l("Knowledgebase settings"),
    "sending": _l("Sending emails"),
    "email_to_ticket": _l("Email to ticket"),
    "imap": _l("IMAP fetching"),
    "pop3": _l("POP3 fetching"),
    "loops": _l("Email to ticket: ignore emails and prevent loops"),
    "typos": _l("Detect email typos"),
    "notify": _l("Notify customers when"),
    "email_other": _l("Other"),
    "ticket_list": _l("Ticket list"),
    "datetime": _l("Date & time"),
    "other": _l("Other"),
}
KINDS = ("bool", "int", "float", "str", "text", "html", "email", "url", "choice", "list", "host", "password",
         "color")

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_URL_RE = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_HEX_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_COLOR_NAME_RE = re.compile(r"^[a-z]{3,20}$")


class UnknownSetting(KeyError):
    """A key that is not declared here: a typo, or a setting from another version."""

    def __str__(self) -> str:
        return f"unknown setting: {self.args[0]}"


class SettingsError(ValueError):
    """One or more values were refused. ``errors`` maps each key to a message for the user."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Invalid(ValueError):
    """Raised by a declaration's ``check`` function with the message for the user."""


@dataclass(frozen=True)
class SettingDef:
    key: str
    default: Any
    kind: str
    tab: str
    group: str
    label: Any
    help: Any = ""
    min: float | None = None
    max: float | None = None
    # plain values, or (value, label) pairs shown in the form
    choices: tuple = ()
    required: bool = False
    # secrets are stored encrypted, masked by "hesk-py settings list" and never logged or shown back
    secret: bool = False
    max_length: int = 0
    # a full-match regular expression for strings, and the message shown when it does not match
    pattern: str | None = None
    pattern_message: Any = None
    # check(value) -> value: extra validation after the type is right; raises Invalid(message)
    check: Callable[[Any], Any] | None = None
    # how the settings page shows it when the kind alone does not say: radio, select, textarea,
    # checkboxes, timezone, logo (own upload field)
    control: str = ""
    # shown after the input: "days", "seconds", "KB"
    unit: Any = ""
    extra: dict = field(default_factory=dict)
    # the feature this setting waits for (a translatable name) when it has no effect yet: the settings
    # page shows it disabled with "takes effect when ... is available" instead of a knob that does nothing
    pending: Any = ""

    @property
    def field_name(self) -> str:
        """The HTML form field name and id (dots are awkward in CSS selectors and ids)."""
        return self.key.replace(".", "__")


_REGISTRY: dict[str, SettingDef] = {}
# Rules between settings: fn(values, submitted_keys) -> {key: message}; see the bottom of the module.
_RULES: list[Callable[[dict[str, Any], set[str]], dict[str, str]]] = []


def declare(key: str, default: Any, kind: str, *, tab: str, group: str, label: Any, help: Any = "", **kw) -> None:
    if key in _REGISTRY:
        raise ValueError(f"setting {key} declared twice")
    if kind not in KINDS:
        raise ValueError(f"setting {key}: unknown kind {kind}")
    if tab not in TABS:
        raise ValueError(f"setting {key}: unknown tab {tab}")
    if group not in GROUPS:
        raise ValueError(f"setting {key}: unknown group {group}")
    if "choices" in kw:
        kw["choices"] = tuple(kw["choices"])
    _REGISTRY[key] = SettingDef(key, default, kind, tab, group, label, help, **kw)


def rule(fn):
    """Register a rule between settings, checked by every save."""
    _RULES.append(fn)
    return fn


def definition(key: str) -> SettingDef:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownSetting(key) from None


def pending_keys() -> dict[str, Any]:
    """{key: the feature it waits for} for every setting that has no effect yet."""
    return {k: d.pending for k, d in _REGISTRY.items() if d.pending}


def definitions(tab: str | None = None) -> list[SettingDef]:
    return [d for d in _REGISTRY.values() if tab is None or d.tab == tab]


def choice_values(d: SettingDef) -> list:
    return [c[0] if isinstance(c, tuple) else c for c in d.choices]


def choice_pairs(d: SettingDef) -> list[tuple[Any, Any]]:
    """(value, label) for each choice; a bare value is its own label."""
    return [c if isinstance(c, tuple) else (c, c) for c in d.choices]


def coerce(key: str, raw: Any) -> Any:
    """Turn ``raw`` (a Python value, or a string from a form or the command line) into the setting's
    type and check its bounds. Raises SettingsError({key: message})."""
    d = definition(key)
    try:
        value = _coerce(d, raw)
        if d.check is not None:
            value = d.check(value)
    except Invalid as exc:
        raise SettingsError({key: str(exc.args[0])}) from None
    return value


def _coerce(d: SettingDef, raw: Any) -> Any:
    def fail(msg):
        raise Invalid(msg)

    kind = d.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        s = str(raw).strip().lower()
        if s in {"1", "true", "yes", "on"}:
            return True
        if s in {"0", "false", "no", "off", ""}:
            return False
        fail(_l("Must be on or off (1/0, true/false)."))
    if kind in ("int", "float"):
        if isinstance(raw, bool):
            fail(_l("Must be a number."))
        try:
            value = int(str(raw).strip()) if kind == "int" else float(str(raw).strip())
        except ValueError:
            fail(_l("Must be a whole number.") if kind == "int" else _l("Must be a number."))
        if d.min is not None and value < d.min:
            fail(_l("Must be at least %(min)s.", min=_num(d.min)))
        if d.max is not None and value > d.max:
            fail(_l("Must be at most %(max)s.", max=_num(d.max)))
        return value
    if kind == "list":
        if isinstance(raw, str):
            items = [p.strip() for p in re.split(r"[,\n]", raw) if p.strip()]
        elif isinstance(raw, (list, tuple)):
            items = [str(p).strip() for p in raw if str(p).strip()]
        else:
            fail(_l("Must be a list."))
        # the same item twice is a typo, not a choice
        items = list(dict.fromkeys(items))
        allowed = choice_values(d)
        if allowed:
            bad = [i for i in items if i not in allowed]
            if bad:
                fail(_l("Not allowed: %(values)s.", values=", ".join(bad)))
            items = [c for c in allowed if c in items]  # the declared order
        if d.max_length and any(len(i) > d.max_length for i in items):
            fail(_l("Each item may have at most %(n)s characters.", n=d.max_length))
        if d.required and not items:
            fail(_l("Choose at least one."))
        return items
    # string kinds
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raw = str(raw)
    value = raw.replace("\r\n", "\n") if kind in ("text", "html", "password") else raw.strip()
    if kind in ("text", "html"):
        value = value.strip()
    if kind not in ("text", "html") and ("\r" in value or "\n" in value):
        fail(_l("Must be a single line."))
    if d.required and not value:
        fail(_l("This setting cannot be empty."))
    if d.max_length and len(value) > d.max_length:
        fail(_l("At most %(n)s characters.", n=d.max_length))
    if value:
        if kind == "email" and not _EMAIL_RE.match(value):
            fail(_l("Enter a valid email address."))
        if kind == "url":
            if not _URL_RE.match(value):
                fail(_l("Enter a URL starting with http:// or https://."))
            value = value.rstrip("/")
        if kind == "host" and not _valid_host(value):
            fail(_l("Enter a host name or IP address only (no http://, no path, no port)."))
        if kind == "host":
            value = value.removeprefix("[").removesuffix("]")
        if kind == "color":
            if _HEX_RE.match(value):
                value = value.lower()
                if len(value) == 4:
                    value = "#" + "".join(c * 2 for c in value[1:])
            elif not (d.extra.get("names") and _COLOR_NAME_RE.match(value.lower())):
                fail(_l("Enter a colour as #rrggbb, for example #1f5fbf.")
                     if not d.extra.get("names") else _l("Enter a colour name (black) or #rrggbb."))
            else:
                value = value.lower()
        if kind == "html":
            value = clean_html(value)
        if d.pattern is not None and not re.fullmatch(d.pattern, value):
            fail(d.pattern_message or _l("This value has the wrong format."))
    if kind == "choice":
        allowed = choice_values(d)
        # choices may be ints: compare as strings, return the declared value
        for c in allowed:
            if str(c) == value:
                return c
        fail(_l("Choose one of: %(values)s.", values=", ".join(str(c) for c in allowed)))
    return value


def _valid_host(value: str) -> bool:
    """A host name or an IP address, nothing else: no scheme, path, user or port can sneak in."""
    import ipaddress

    if _HOST_RE.match(value) and ".." not in value:
        return True
    try:
        ipaddress.ip_address(value[1:-1] if value.startswith("[") and value.endswith("]") else value)
    except ValueError:
        return False
    return True


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def clean_html(value: str) -> str:
    """HTML that staff may put on customer pages: nh3's safe tags, no scripts, styles or handlers."""
    import nh3

    return nh3.clean(value or "")


# --- secrets -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _fernet_for(secret_key: str):
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"hesk_py settings",
               info=b"secret settings v1").derive(secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet():
    return _fernet_for(str(current_app.config["SECRET_KEY"]))


def _encrypt(value: str) -> dict[str, str]:
    return {"fernet": _fernet().encrypt(value.encode("utf-8")).decode("ascii")}


def _decode(d: SettingDef, stored_value: Any) -> Any:
    """A stored value as the program uses it (secrets decrypted)."""
    if not d.secret or not isinstance(stored_value, dict):
        return stored_value
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(str(stored_value.get("fernet", "")).encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        return d.default  # encrypted with another secret key: unreadable, see unreadable_secrets()


def unreadable_secrets() -> list[str]:
    """Secret settings stored with another secret key (they must be typed again)."""
    out = []
    for key, value in _overrides().items():
        d = _REGISTRY[key]
        if d.secret and isinstance(value, dict):
            from cryptography.fernet import InvalidToken

            try:
                _fernet().decrypt(str(value.get("fernet", "")).encode("ascii"))
            except (InvalidToken, ValueError):
                out.append(key)
    return out


# --- reading -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Loaded:
    raw: dict[str, Any]  # the stored overrides (secrets encrypted)
    values: dict[str, Any]  # every declared key: its stored value decoded, or its default


def _load() -> _Loaded:
    from hesk_py.models import Setting

    raw = {}
    for key, value in db.session.execute(select(Setting.key, Setting.value)):
        if key in _REGISTRY:  # rows of keys removed in a newer version are ignored
            raw[key] = value
    values = {k: (_decode(d, raw[k]) if k in raw else d.default) for k, d in _REGISTRY.items()}
    return _Loaded(raw, values)


def _loaded() -> _Loaded:
    """The settings, cached per process until they change (hesk_py/shared_cache.py: a change through the
    help desk shows at once on this machine, within ``[cache] check_seconds`` on other app servers)."""
    return shared_cache.cached("settings", _load)


def _overrides() -> dict[str, Any]:
    return _loaded().raw


def get(key: str) -> Any:
    try:
        return _loaded().values[key]
    except KeyError:
        definition(key)  # raises UnknownSetting
        raise


def all_values() -> dict[str, Any]:
    return dict(_loaded().values)


def stored() -> dict[str, Any]:
    """Only the overrides, as stored (secrets encrypted)."""
    return dict(_overrides())


# --- writing -------------------------------------------------------------------------------------

def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Coerce every value; collect every error (not just the first) into one SettingsError."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        try:
            clean[key] = coerce(key, raw)
        except SettingsError as exc:
            errors.update({k: str(v) for k, v in exc.errors.items()})
        except UnknownSetting as exc:
            errors[key] = str(exc)
    if errors:
        raise SettingsError(errors)
    return clean


def check_rules(clean: dict[str, Any], current: dict[str, Any] | None = None) -> None:
    """The rules between settings, on the current values with ``clean`` applied. Raises SettingsError."""
    merged = dict(current if current is not None else all_values())
    merged.update(clean)
    errors: dict[str, str] = {}
    for fn in _RULES:
        for key, msg in fn(merged, set(clean)).items():
            errors.setdefault(key, str(msg))
    if errors:
        raise SettingsError(errors)


def save(values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Validate and write ``values`` in one transaction. Returns {key: (old, new)} for what changed.

    Nothing is written when any value is refused (per field, or by a rule between settings).
    """
    from hesk_py.models import Setting

    clean = validate(values)
    current = all_values()
    check_rules(clean, current)
    changed = {k: (current[k], v) for k, v in clean.items() if not _same(current[k], v)}
    try:
        for key, (_old, new) in changed.items():
            d = _REGISTRY[key]
            if _same(new, d.default):
                db.session.execute(delete(Setting).where(Setting.key == key))
                continue
            value = _encrypt(new) if d.secret else new
            row = db.session.get(Setting, key)
            if row is None:
                db.session.add(Setting(key=key, value=value))
            else:
                row.value = value
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return changed


def reset(key: str) -> dict[str, tuple[Any, Any]]:
    """Back to the default (through save(), so the rules between settings still hold)."""
    return save({key: definition(key).default})


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --- templates and people ------------------------------------------------------------------------

def template_value(key: str) -> Any:
    """``hesk_setting(key)`` in templates: the default before install or when the database is down."""
    if not current_app.config.get("HESK_INSTALLED"):
        return definition(key).default
    try:
        return get(key)
    except UnknownSetting:
        raise
    except Exception:
        db.session.rollback()
        return definition(key).default


def template_html(key: str):
    """``hesk_setting_html(key)``: an html setting, sanitised again when shown (a row edited by hand
    in the database must not bring scripts in), marked safe for Jinja."""
    from markupsafe import Markup

    if definition(key).kind != "html":
        raise ValueError(f"{key} is not an HTML setting")
    value = str(template_value(key) or "")
    if not value:
        return Markup("")
    return shared_cache.cached(f"settings.html:{key}", lambda: Markup(clean_html(value)))


def init_app(app) -> None:
    app.jinja_env.globals["hesk_setting"] = template_value
    app.jinja_env.globals["hesk_setting_html"] = template_html


def display(key: str, value: Any) -> str:
    """A value as text for people and the command line (secrets masked, one line)."""
    d = definition(key)
    if d.secret and value:
        return "********"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    text = "" if value is None else str(value)
    return text.replace("\n", "\\n")


# ---------------------------------------------------------------------------------------------
# Checks used by the declarations.
# ---------------------------------------------------------------------------------------------

# File types that run code on a server or in a browser: never accepted as attachments, whatever the
# admin types (HESK removes "executable" types the same way).
BLOCKED_ATTACHMENT_TYPES = frozenset({
    ".php", ".php3", ".php4", ".php5", ".php7", ".php8", ".phtml", ".pht", ".phps", ".phar", ".inc",
    ".exe", ".com", ".bat", ".cmd", ".msi", ".msp", ".mst", ".scr", ".pif", ".cpl", ".dll", ".sys", ".drv",
    ".sh", ".bash", ".zsh", ".csh", ".ksh", ".ps1", ".psm1", ".psd1", ".vb", ".vbs", ".vbe", ".wsf", ".wsh",
    ".ws", ".sct", ".hta", ".jse", ".js", ".mjs", ".cjs", ".jar", ".class", ".py", ".pyc", ".pyw", ".pl",
    ".pm", ".cgi", ".fcgi", ".rb", ".asp", ".aspx", ".asa", ".ascx", ".ashx", ".asmx", ".cer", ".jsp",
    ".jspx", ".cfm", ".shtml", ".shtm", ".stm", ".html", ".htm", ".xhtml", ".xht", ".mht", ".mhtml",
    ".svg", ".svgz", ".xml", ".xsl", ".xslt", ".swf", ".reg", ".lnk", ".inf", ".gadget", ".msc",
    ".application", ".appref-ms", ".app", ".apk", ".deb", ".rpm", ".run", ".bin", ".elf", ".out",
    ".htaccess", ".htpasswd", ".ini", ".config", ".user.ini", ".wasm",
})


def _attachment_types(items: list[str]) -> list[str]:
    out = []
    for item in items:
        ext = item.lower()
        if not ext.startswith("."):
            ext = "." + ext
        if not re.fullmatch(r"\.[a-z0-9]{1,10}", ext):
            raise Invalid(_l("\"%(value)s\" is not a file extension (letters and digits, like .pdf).", value=item))
        out.append(ext)
    blocked = [e for e in out if e in BLOCKED_ATTACHMENT_TYPES]
    if blocked:
        raise Invalid(_l("These types can run code and are never allowed: %(values)s.", values=", ".join(blocked)))
    return list(dict.fromkeys(out))


@functools.lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    import zoneinfo

    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def _time_zone(value: str) -> str:
    if value not in time_zones():
        raise Invalid(_l("Choose a time zone from the list, like Europe/Kyiv or UTC."))
    return value


_STRFTIME_RE = re.compile(r"(?:[^%]|%[-]?[aAbBdHIjmMpSyYZz%eu])*")


def _date_format(value: str) -> str:
    if not _STRFTIME_RE.fullmatch(value) or "%" not in value:
        raise Invalid(_l("Use strftime codes such as %Y %m %d %H %M %S (and other characters as "
                         "they are)."))
    return value


def _limit_width(value: int) -> int:
    if 0 < value < 50:
        raise Invalid(_l("Use 0 for full width, or at least 50 pixels."))
    return value


def _whois_url(value: str) -> str:
    if "{IP}" not in value:
        raise Invalid(_l("The address must contain {IP} where the IP address goes."))
    return value


def _domains(items: list[str]) -> list[str]:
    out = []
    for item in items:
        domain = item.lower()
        if not re.fullmatch(r"(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", domain):
            raise Invalid(_l("\"%(value)s\" is not a domain name (like gmail.com).", value=item))
        out.append(domain)
    return list(dict.fromkeys(out))


ON_OFF = ((0, _l("Off")), (1, _l("On")))

# ---------------------------------------------------------------------------------------------
# The declarations, tab by tab and group by group, in HESK's order (reference/HESK.md §4).
# ---------------------------------------------------------------------------------------------

# --- General: general settings ---------------------------------------------------------------
declare("site_title", "Website", "str", tab="general", group="general", required=True, max_length=255,
        label=_l("Website title"),
        help=_l("The name of your main website. Customer pages show it as the link back to your website."))
declare("site_url", "https://www.example.com", "url", tab="general", group="general", required=True,
        max_length=255, label=_l("Website URL"),
        help=_l("The address of your main website (starting with http:// or https://), used for that link."))
declare("hesk_title", "Help Desk", "str", tab="general", group="general", required=True, max_length=255,
        label=_l("Help desk title"),
        help=_l("The name of your help desk. It appears at the top of every page, in emails, and as the "
                "account name in staff authenticator apps."))
declare("hesk_url", "https://www.example.com/helpdesk", "url", tab="general", group="general", required=True,
        max_length=255, label=_l("Help desk URL"),
        help=_l("The address where the help desk is reached, without a trailing slash. Links in emails "
                "(sent by background jobs, outside any web request) are built from it."))
declare("webmaster_mail", "support@example.com", "email", tab="general", group="general", required=True,
        max_length=255, label=_l("Webmaster email"),
        help=_l("A contact address shown to customers when something goes wrong, for example when the "
                "database cannot be reached or an email cannot be sent."))

# --- General: language -----------------------------------------------------------------------
from hesk_py.i18n import LANGUAGES  # noqa: E402  (i18n reads settings only inside functions)

declare("language", "en", "choice", tab="general", group="language", choices=tuple(LANGUAGES.items()),
        label=_l("Default language"),
        help=_l("The language of the help desk for customers, and for staff who have not chosen their "
                "own language in their profile."))
declare("can_sel_lang", False, "bool", tab="general", group="language", label=_l("Multiple languages"),
        help=_l("Let customers and staff switch the language of the pages (a language menu appears and the "
                "choice is remembered in a cookie). Turn it on only when you can answer tickets in every "
                "language offered."))

# --- Help desk: help desk settings -----------------------------------------------------------
declare("max_listings", 20, "int", tab="help_desk", group="help_desk", min=1, max=999,
        label=_l("Listings per page"),
        help=_l("How many tickets one page of the staff ticket lists shows."))
declare("print_font_size", 12, "int", tab="help_desk", group="help_desk", min=1, max=99, unit=_l("pt"),
        label=_l("Print font size"), help=_l("The font size of printer-friendly ticket pages."))
declare("autoclose", 0, "int", tab="help_desk", group="help_desk", min=0, max=999, unit=_l("days"),
        label=_l("Auto-close tickets"),
        help=_l("Resolve tickets that have waited this many days for the customer's answer after a staff "
                "reply. 0 turns it off."))
declare("max_open", 0, "int", tab="help_desk", group="help_desk", min=0, max=999,
        label=_l("Max open tickets"),
        help=_l("How many open tickets one customer (email address) may have at a time through the web "
                "form. 0 means no limit."))
declare("due_soon", 7, "int", tab="help_desk", group="help_desk", min=1, max=999, unit=_l("days"),
        label=_l("Show as \"due soon\""),
        help=_l("Tickets whose due date is this many days away or closer are marked \"due soon\" and can be "
                "filtered."))
declare("new_top", 0, "choice", tab="help_desk", group="help_desk", control="radio",
        choices=((0, _l("Newest reply at the bottom")), (1, _l("Newest reply at the top"))),
        label=_l("Reply order"), help=_l("The order of replies when a ticket is shown."))
declare("reply_top", 0, "choice", tab="help_desk", group="help_desk", control="radio",
        choices=((0, _l("Reply form below the replies")), (1, _l("Reply form above the replies"))),
        label=_l("Reply form"), help=_l("Where the reply form appears on the ticket page."))
declare("hide_replies", 0, "int", tab="help_desk", group="help_desk", min=-1, max=99,
        label=_l("Hide ticket replies"),
        help=_l("Collapse long threads for staff: 0 shows every reply; -1 shows only the last staff reply "
                "and the customer replies after it; a number from 1 to 99 shows only that many of the "
                "latest replies. Staff can click \"Show previous replies\"."))
declare("limit_width", 800, "int", tab="help_desk", group="help_desk", min=0, max=9999, unit=_l("pixels"),
        check=_limit_width, label=_l("Limit ticket width"),
        help=_l("The widest a ticket's message text may be, for easier reading. 0 uses the full width."))

# --- Help desk: features ---------------------------------------------------------------------
declare("autologin", True, "bool", tab="help_desk", group="features", label=_l("Allow automatic login"),
        help=_l("Staff may tick \"Remember me\" to stay logged in on that browser. When off, they log in "
                "every time the browser is opened."))
declare("autoassign", True, "bool", tab="help_desk", group="features", label=_l("Auto-assign tickets"),
        help=_l("Assign new tickets automatically to the staff member with the fewest open tickets in the "
                "ticket's category (only categories with auto-assign on, only staff who accept it)."))
declare("require_email", True, "bool", tab="help_desk", group="features", label=_l("Require email"),
        help=_l("Customers must give an email address to submit a ticket. Turning it off also turns off "
                "\"Email for viewing tickets\"."))
declare("require_owner", False, "bool", tab="help_desk", group="features", label=_l("Require owner"),
        help=_l("A ticket must be assigned to someone before staff can reply to it."))
declare("require_subject", 1, "choice", tab="help_desk", group="features", control="radio",
        choices=((1, _l("Required")), (0, _l("Optional")), (-1, _l("Hidden on the customer form"))),
        label=_l("Require subject"),
        help=_l("Whether customers must type a subject. A missing subject is made from the message."))
declare("require_message", 1, "choice", tab="help_desk", group="features", control="radio",
        choices=((1, _l("Required")), (0, _l("Optional")), (-1, _l("Hidden on the customer form"))),
        label=_l("Require message"), help=_l("Whether customers must type a message."))
declare("custclose", True, "bool", tab="help_desk", group="features", label=_l("Customers can resolve"),
        help=_l("Customers may mark their own tickets resolved."))
declare("custopen", True, "bool", tab="help_desk", group="features", label=_l("Customers can reopen"),
        help=_l("Customers may reopen resolved tickets by replying to them. When off, they must open a new "
                "ticket."))
declare("rating", True, "bool", tab="help_desk", group="features", label=_l("Reply ratings"),
        help=_l("Customers may rate each staff reply as helpful or not helpful; reports show the ratings."))
declare("cust_urgency", True, "bool", tab="help_desk", group="features", label=_l("Customer priority"),
        help=_l("Customers may choose the priority of their ticket (from the priorities they are allowed "
                "to select). When off, tickets get the category's default priority."))
declare("sequential", True, "bool", tab="help_desk", group="features", label=_l("Sequential IDs"),
        help=_l("Show the sequential ticket number next to the tracking ID; staff can search and link "
                "tickets by it."))
declare("time_worked", True, "bool", tab="help_desk", group="features", label=_l("Time worked"),
        help=_l("Show a time counter on the staff reply form and record the time worked on each ticket."))
declare("spam_notice", True, "bool", tab="help_desk", group="features", label=_l("SPAM notice"),
        help=_l("After submitting, tell customers to look in their SPAM folder if the confirmation email "
                "does not arrive (only when that email is sent)."))
declare("list_users", False, "bool", tab="help_desk", group="features", label=_l("List usernames"),
        help=_l("Show a list of usernames on the staff login page instead of a text field. Not "
                "recommended: it tells everyone your usernames."))
declare("debug_mode", False, "bool", tab="help_desk", group="features", label=_l("Debug mode"),
        help=_l("When a page fails with an error, show administrators (only them) the error's type, message "
                "and traceback on the error page, with passwords and keys replaced by ***. Customers and other "
                "staff always see the plain error page. Turn it off on a live help desk."))
declare("short_link", False, "bool", tab="help_desk", group="features", label=_l("Short links"),
        help=_l("Shorten long addresses shown in messages (more than 70 characters) with \"...\"."))
declare("submitting_wait", True, "bool", tab="help_desk", group="features",
        label=_l("Show \"Submitting\" notification"),
        help=_l("Disable the submit button and show \"Submitting, please wait\" while a form is sent, so "
                "it is not sent twice."))
declare("remember_custom_field_values", True, "bool", tab="help_desk", group="features",
        label=_l("Remember custom field values"),
        help=_l("Keep what a customer typed in custom fields for the browser session, for their next "
                "ticket."))
declare("disable_autofill_customer", False, "bool", tab="help_desk", group="features",
        label=_l("Disable autocomplete on the customer form"),
        help=_l("Ask browsers not to fill in the customer \"Submit a ticket\" form automatically."))
declare("disable_autofill_admin", False, "bool", tab="help_desk", group="features",
        label=_l("Disable autocomplete on the staff form"),
        help=_l("Ask browsers not to fill in the staff \"New ticket\" form automatically."))
declare("extend_admin", False, "bool", tab="help_desk", group="features", label=_l("Extend staff sessions"),
        help=_l("Staff are logged out after some time without opening a page (session_idle_minutes in the "
                "bootstrap config, 24 minutes unless changed); a reply sent after that is kept as a draft for "
                "when they log in again. With this on, an open staff page tells the help desk every few "
                "minutes that it is still open (this needs JavaScript), so staff stay logged in until they "
                "log out or close the browser."))
declare("extend_customer", False, "bool", tab="help_desk", group="features",
        label=_l("Extend customer sessions"),
        help=_l("Keep customers logged in while a help desk page stays open in the browser. Without it, a "
                "customer account's session ends after 30 minutes without a page (\"Remember me\" logs them in "
                "again)."))
declare("select_cat", False, "bool", tab="help_desk", group="features",
        label=_l("\"Click to select\" category"),
        help=_l("Make \"Click to select\" the first choice of the category list, so people must choose one "
                "on purpose."))
declare("select_pri", False, "bool", tab="help_desk", group="features",
        label=_l("\"Click to select\" priority"),
        help=_l("Make \"Click to select\" the first choice of the priority list, so people must choose one "
                "on purpose."))
declare("cat_show_select", 15, "int", tab="help_desk", group="features", min=0, max=999,
        label=_l("Category select limit"),
        help=_l("With more categories than this, customers choose from a drop-down list instead of a list "
                "of links. 0 always shows the drop-down."))
declare("staff_ticket_formatting", 0, "choice", tab="help_desk", group="features", control="radio",
        choices=((0, _l("Plain text")), (2, _l("Markdown"))), label=_l("Ticket formatting (staff)"),
        help=_l("How staff write replies. Plain text: shown as typed, web addresses made into links. Markdown: "
                "**bold**, *italic*, [links](https://example.com), lists, `code` and > quotes, with a small "
                "toolbar and a preview on the reply form. A reply is stored exactly as typed, with its format; "
                "customers and staff see it as formatted HTML cleaned of anything unsafe, HTML emails carry it "
                "formatted and plain text emails as typed. Replies keep the format they were written in when "
                "this changes."))
declare("multi_eml", False, "bool", tab="help_desk", group="features", label=_l("Ticket followers"),
        help=_l("Allow tickets to have more than one customer. Followers get the same notifications as the "
                "customer who opened the ticket, and may view it and reply (web and email). With customer "
                "accounts on, the followers a customer names (the Cc field of the ticket form, the To and Cc "
                "of their email) are added only when they have a verified account; the others are ignored. "
                "Staff may add any address; a follower with an account sees the ticket in My tickets."))
declare("staff_nicknames", False, "bool", tab="help_desk", group="features", label=_l("Nicknames"),
        help=_l("Staff may set a nickname that customers see instead of their real name."))

# --- Help desk: barcode ----------------------------------------------------------------------
declare("barcode.print", False, "bool", tab="help_desk", group="barcode",
        label=_l("Display a barcode on printed tickets"),
        help=_l("Print a QR code of the tracking ID on printer-friendly ticket pages."))
declare("barcode.staff_only", False, "bool", tab="help_desk", group="barcode",
        label=_l("Hide the barcode from customers"),
        help=_l("Show the barcode only on pages staff print."))
declare("barcode.format", "svg", "choice", tab="help_desk", group="barcode", control="radio",
        choices=(("svg", "SVG"), ("png", "PNG")), label=_l("Barcode format"),
        help=_l("SVG prints sharp at any size; PNG suits old printers and email."))
declare("barcode.width", 300, "int", tab="help_desk", group="barcode", min=10, max=99999, unit=_l("pixels"),
        label=_l("Barcode width"), help=_l("The QR code is drawn as large as fits in this width and height."))
declare("barcode.height", 80, "int", tab="help_desk", group="barcode", min=10, max=99999, unit=_l("pixels"),
        label=_l("Barcode height"), help=_l("The QR code is drawn as large as fits in this width and height."))
declare("barcode.color", "black", "color", tab="help_desk", group="barcode", required=True, extra={"names": True},
        label=_l("Barcode colour"), help=_l("A colour name (black) or #rrggbb."))
declare("barcode.bg", "white", "color", tab="help_desk", group="barcode", required=True, extra={"names": True},
        label=_l("Barcode background"), help=_l("A colour name (white) or #rrggbb."))

# --- Help desk: customer accounts ------------------------------------------------------------
declare("customer_accounts", 0, "choice", tab="help_desk", group="customer_accounts", control="radio",
        choices=((0, _l("Disabled")), (1, _l("Enabled, optional")),
                 (2, _l("Enabled, required to submit tickets")), (3, _l("Enabled, required to access the help desk"))),
        label=_l("Customer accounts"),
        help=_l("Customer accounts let customers log in and see all their tickets. Optional: customers "
                "may still submit and view tickets without logging in. Required to submit: only logged-in "
                "customers open tickets. Required to access: every customer page needs a login."))
declare("customer_accounts_registration", 0, "choice", tab="help_desk", group="customer_accounts",
        control="radio",
        choices=((0, _l("Customers can register")), (1, _l("Customers can register, staff must approve")),
                 (2, _l("Only staff can register customers"))),
        label=_l("Account registration"), help=_l("Who may create customer accounts."))
declare("customer_autologin", True, "bool", tab="help_desk", group="customer_accounts",
        label=_l("Allow automatic login (customers)"),
        help=_l("Customers may tick \"Remember me\"; when off, only their email address is remembered."))
declare("customer_accounts_allow_email_changes", True, "bool", tab="help_desk", group="customer_accounts",
        label=_l("Customers can change their email address"),
        help=_l("Customers may change the email address of their account (they confirm the new one)."))
declare("customer_accounts_verify_email_cooldown", 15, "int", tab="help_desk", group="customer_accounts",
        min=0, max=99999, unit=_l("minutes"), label=_l("Time between verification emails"),
        help=_l("How long customers wait before asking for another verification email. 0: no waiting. "
                "Staff can always resend it."))

# --- Help desk: SPAM prevention --------------------------------------------------------------
declare("secimg_use", 1, "choice", tab="help_desk", group="spam", control="radio",
        choices=((0, _l("Off")), (1, _l("On for customers")), (2, _l("On for everyone"))),
        label=_l("Use anti-SPAM image"),
        help=_l("Show a picture of characters (a CAPTCHA) that must be typed on the ticket form: for "
                "customers only, or also for logged-in staff. Keep at least one anti-SPAM measure on while "
                "customers can submit tickets."))
declare("question_use", False, "bool", tab="help_desk", group="spam", label=_l("Use anti-SPAM question"),
        help=_l("Ask a question on the ticket form that a person answers easily and a robot does not. "
                "Make it unique to your help desk."))
declare("question_ask", "Type <i>PB6YM</i> here to fight SPAM:", "html", tab="help_desk", group="spam",
        max_length=2000, label=_l("Question"),
        help=_l("The anti-SPAM question shown on the ticket form. Simple HTML is allowed."))
declare("question_ans", "PB6YM", "str", tab="help_desk", group="spam", max_length=255, label=_l("Answer"),
        help=_l("The expected answer. Letter case does not matter."))
# hesk_py additions (not in HESK): a signed minimum fill time and a per-address limit on new tickets.
declare("spam_min_fill_seconds", 3, "int", tab="help_desk", group="spam", min=0, max=600, unit=_l("seconds"),
        label=_l("Minimum time to fill in the form"),
        help=_l("A ticket form sent back faster than this after it was shown is refused as a robot's (the "
                "customer simply submits it again). 0 turns the check off."))
declare("spam_tickets_per_hour", 60, "int", tab="help_desk", group="spam", min=0, max=100000,
        label=_l("Ticket form submissions per IP address per hour"),
        help=_l("How many times one IP address may send the customer ticket form in an hour (a form sent "
                "back with errors counts too). 0 means no limit."))

# --- Help desk: security ---------------------------------------------------------------------
declare("attempt_limit", 6, "int", tab="help_desk", group="security", min=0, max=999,
        label=_l("Login attempts limit"),
        help=_l("After this many failed staff logins or ticket look-ups from one IP address, that address "
                "is blocked for a while. 0 turns the limit off."))
declare("attempt_banmin", 60, "int", tab="help_desk", group="security", min=1, max=99999, unit=_l("minutes"),
        label=_l("Ban time"),
        help=_l("How many minutes an IP address stays blocked after too many failed attempts."))
declare("flood", 3, "int", tab="help_desk", group="security", min=0, max=999, unit=_l("seconds"),
        label=_l("Flood limit"),
        help=_l("The least time between two tickets or replies from the same person. 0 turns it off."))
declare("reset_pass", True, "bool", tab="help_desk", group="security", label=_l("Password reset"),
        help=_l("Staff may reset a forgotten password with a link sent by email."))
declare("email_view_ticket", True, "bool", tab="help_desk", group="security", label=_l("View tickets"),
        help=_l("Customers must enter their email address as well as the tracking ID to view a ticket. "
                "Always off when \"Require email\" is off."))
declare("x_frame_opt", True, "bool", tab="help_desk", group="security", label=_l("Frames"),
        help=_l("Prevent other websites from showing the help desk inside a frame (protects against "
                "click-jacking)."))
declare("samesite", "Lax", "choice", tab="help_desk", group="security", control="radio",
        choices=(("Strict", "Strict"), ("Lax", "Lax"), ("None", "None")), label=_l("Cookies (SameSite)"),
        help=_l("When browsers send the help desk's cookies from other sites. Lax suits most help desks; "
                "None (needed to embed the help desk in another site) works only over https."))
declare("force_ssl", False, "bool", tab="help_desk", group="security", label=_l("Force SSL"),
        help=_l("Redirect every http:// request to https:// and make the help desk URL https. Turn it on "
                "only when https works."))
declare("url_key", "", "str", tab="help_desk", group="security", max_length=255,
        pattern=r"([A-Za-z0-9_.-]{20,255})?",
        pattern_message=_l("At least 20 characters: letters, digits, dots, dashes and underscores."),
        label=_l("URL access key"),
        help=_l("For hosts without cron: opening /cron?key=KEY on the help desk runs the same background jobs "
                "as \"hesk-py cron\" (send email, fetch email, auto-close, overdue notices). Leave empty to turn "
                "that address off."))
declare("require_mfa", False, "bool", tab="help_desk", group="security",
        label=_l("Require multi-factor authentication for staff"),
        help=_l("Staff must set up a second factor (an authenticator app or email codes) when they next log "
                "in."))
declare("require_mfa_customers", False, "bool", tab="help_desk", group="security",
        label=_l("Require multi-factor authentication for customers"),
        help=_l("Customers with accounts must set up a second factor when they next log in."))
declare("elevator_duration", "60M", "str", tab="help_desk", group="security", pattern=r"[1-9][0-9]{0,5}[MHD]",
        pattern_message=_l("A number followed by M (minutes), H (hours) or D (days), like 60M."),
        label=_l("Secure area duration"),
        help=_l("After staff confirm their password to open a sensitive page (like these settings), they "
                "are not asked again for this long: a number and M, H or D, like 60M. Logging out ends it."))

# --- Help desk: attachments ------------------------------------------------------------------
declare("attachments.use", True, "bool", tab="help_desk", group="attachments", label=_l("Use attachments"),
        help=_l("Let customers and staff attach files to tickets and replies. The attachments folder must be "
                "writable (see the status box)."))
declare("attachments.max_number", 2, "int", tab="help_desk", group="attachments", min=1, max=99,
        label=_l("Number per post"), help=_l("How many files one ticket or reply may carry."))
declare("attachments.max_size", 2048, "int", tab="help_desk", group="attachments", min=1, max=65536,
        unit=_l("KB"), label=_l("Maximum file size"),
        help=_l("The largest file accepted, in kilobytes (1024 KB = 1 MB). Uploads larger than 64 MB in "
                "total are refused by the server anyway."))
declare("attachments.allowed_types",
        [".gif", ".jpg", ".jpeg", ".png", ".zip", ".rar", ".csv", ".doc", ".docx", ".xls", ".xlsx",
         ".txt", ".pdf"],
        "list", tab="help_desk", group="attachments", check=_attachment_types, control="textarea",
        label=_l("Allowed file types"),
        help=_l("File extensions that may be uploaded, separated by commas (.pdf, .png). A file's content "
                "must match its extension. Types that can run code (.php, .exe, .js, .html, .svg, .sh, "
                ".bat and the like) are never allowed."))
declare("attachments.attachment_in_email_type", 0, "choice", tab="help_desk", group="attachments",
        control="radio", choices=((0, _l("Link to the attachments")), (1, _l("Attach the files to the email"))),
        label=_l("Attachments in emails"),
        help=_l("Notification emails whose template includes the message (%%MESSAGE%% or %%ATTACHMENTS%%, "
                "see Email templates) either link to its attachments or carry the files themselves. Files not "
                "attached (too large, too many) are always sent as links."))
declare("attachments.direct_attachment_in_email", 0, "choice", tab="help_desk", group="attachments",
        control="radio", choices=((0, _l("Only files smaller than the size below")), (1, _l("Files of any size"))),
        label=_l("Which files to attach"),
        help=_l("When files are attached to emails: only small files, or every file."))
declare("attachments.file_max_size", 500, "int", tab="help_desk", group="attachments", min=1, max=65536,
        unit=_l("KB"), label=_l("Largest file to attach"),
        help=_l("Files smaller than this are attached to emails; larger ones are sent as links."))
declare("attachments.direct_attachment_in_email_no_of_files", 2, "choice", tab="help_desk",
        group="attachments", control="radio",
        choices=((2, _l("Only the first files (number below)")), (3, _l("All files"))),
        label=_l("How many files to attach"), help=_l("Attach all files, or only the first few."))
declare("attachments.first_x_attachments", 2, "int", tab="help_desk", group="attachments", min=1, max=99,
        label=_l("Number of files to attach"),
        help=_l("How many files are attached to an email when only the first files are attached."))

# --- Look & feel -----------------------------------------------------------------------------
declare("customer_theme", "", "choice", tab="look", group="theme", control="radio",
        choices=(("", _l("Follow the browser (light or dark)")), ("light", _l("Light")), ("dark", _l("Dark"))),
        label=_l("Customer theme"),
        help=_l("The colour theme of customer pages. By default they follow the visitor's light or dark "
                "preference."))
declare("theme_overrides.primary", "", "color", tab="look", group="theme", label=_l("Accent colour"),
        help=_l("The colour of links, buttons and highlights on customer pages, as #rrggbb. Leave empty for "
                "the built-in blue. Text on buttons turns black or white to stay readable."))
declare("site_logo", "", "str", tab="look", group="theme", control="logo",
        pattern=r"[0-9a-f]{16,64}\.(png|jpg|gif|webp)",
        pattern_message=_l("Upload the logo on the Look & feel page."), label=_l("Logo"),
        help=_l("A PNG, JPEG, GIF or WebP picture (at most 512 KB) shown at the top of customer pages "
                "instead of the help desk title."))
declare("custom_header", "", "html", tab="look", group="custom_html", max_length=20000,
        label=_l("Custom header"),
        help=_l("HTML shown at the top of every customer page, under the menu bar: a notice, links, a "
                "banner. Scripts, styles and event handlers are removed."))
declare("custom_footer", "", "html", tab="look", group="custom_html", max_length=20000,
        label=_l("Custom footer"),
        help=_l("HTML shown at the bottom of every customer page: contact details, legal links. Scripts, "
                "styles and event handlers are removed."))

# --- Knowledgebase ---------------------------------------------------------------------------
declare("kb_enable", 1, "choice", tab="knowledgebase", group="knowledgebase", control="radio",
        choices=((1, _l("Yes")), (2, _l("Yes, knowledgebase only (customers cannot submit tickets)")),
                 (0, _l("No"))),
        label=_l("Enable knowledgebase"),
        help=_l("A knowledgebase of articles that answer common questions. In knowledgebase-only mode the "
                "ticket form is hidden from customers; staff and email can still create tickets."))
declare("kb_wysiwyg", True, "bool", tab="knowledgebase", group="knowledgebase", label=_l("Rich text editor"),
        help=_l("Articles are written in Markdown and shown as formatted HTML cleaned of anything unsafe. With "
                "this on, the article editor has a toolbar (bold, italic, link, list, code, quote) and a "
                "preview; when off, it is a plain text box with a Markdown hint."))
declare("kb_recommendanswers", True, "bool", tab="knowledgebase", group="knowledgebase",
        label=_l("Suggest articles"),
        help=_l("Before a ticket is submitted, show articles matching its subject and message; they may "
                "answer it at once."))
declare("kb_rating", True, "bool", tab="knowledgebase", group="knowledgebase", label=_l("Article rating"),
        help=_l("Visitors may rate articles as helpful or not."))
declare("kb_views", False, "bool", tab="knowledgebase", group="knowledgebase", label=_l("Show article views"),
        help=_l("Show customers how many times each article was viewed (staff always see it)."))
declare("kb_date", False, "bool", tab="knowledgebase", group="knowledgebase", label=_l("Show article date"),
        help=_l("Show customers when each article was written."))
declare("kb_search", 2, "choice", tab="knowledgebase", group="knowledgebase", control="radio",
        choices=((0, _l("Off")), (1, _l("Small search box")), (2, _l("Large search box"))),
        label=_l("Knowledgebase search"), help=_l("The search box on knowledgebase pages."))
declare("kb_search_limit", 10, "int", tab="knowledgebase", group="knowledgebase", min=1, max=99,
        label=_l("Max search results"), help=_l("How many articles a search or a suggestion shows."))
declare("kb_substrart", 200, "int", tab="knowledgebase", group="knowledgebase", min=20, max=9999,
        unit=_l("characters"), label=_l("Article preview length"),
        help=_l("How much of an article lists and search results show."))
declare("kb_cols", 2, "int", tab="knowledgebase", group="knowledgebase", min=1, max=5,
        label=_l("Categories in a row"), help=_l("How many knowledgebase categories one row shows on wide screens."))
declare("kb_numshow", 3, "int", tab="knowledgebase", group="knowledgebase", min=0, max=99,
        label=_l("Subcategory articles"), help=_l("How many articles each subcategory box previews."))
declare("kb_index_popart", 6, "int", tab="knowledgebase", group="knowledgebase", min=0, max=99,
        label=_l("Popular articles on the home page"),
        help=_l("How many of the most viewed articles the help desk home page shows. 0 hides them."))
declare("kb_popart", 6, "int", tab="knowledgebase", group="knowledgebase", min=0, max=99,
        label=_l("Popular articles in the knowledgebase"),
        help=_l("How many of the most viewed articles knowledgebase pages show. 0 hides them."))
declare("kb_index_latest", 0, "int", tab="knowledgebase", group="knowledgebase", min=0, max=99,
        label=_l("Latest articles on the home page"),
        help=_l("How many of the newest articles the help desk home page shows. 0 hides them."))
declare("kb_latest", 6, "int", tab="knowledgebase", group="knowledgebase", min=0, max=99,
        label=_l("Latest articles in the knowledgebase"),
        help=_l("How many of the newest articles knowledgebase pages show. 0 hides them."))
declare("kb_related", 5, "int", tab="knowledgebase", group="knowledgebase", min=0, max=99,
        label=_l("Related articles"), help=_l("How many related articles are listed under each article. 0 hides them."))

# --- Email: sending --------------------------------------------------------------------------
declare("noreply_mail", "noreply@example.com", "email", tab="email", group="sending", required=True,
        max_length=255, label=_l("\"From:\" email"),
        help=_l("The address every help desk email is sent from. Use an address that nobody reads, or the "
                "one email fetching imports from."))
declare("noreply_name", "Help Desk", "str", tab="email", group="sending", max_length=255,
        pattern=r"[^\"<>]*", pattern_message=_l("Quotes and angle brackets are not allowed."),
        label=_l("\"From:\" name"), help=_l("The sender name of help desk emails."))
declare("email_max_recipients", 50, "int", tab="email", group="sending", min=0, max=99999,
        label=_l("Max recipients in one email"),
        help=_l("The most To, Cc and Bcc addresses one email may have; extra Cc addresses are dropped. "
                "0 means no limit."))
declare("email_formatting", 0, "choice", tab="email", group="sending", control="radio",
        choices=((0, _l("Plain text only")), (1, _l("HTML only")),
                 (2, _l("HTML, with a plain text version made from it")),
                 (3, _l("HTML, with the plain text template as the plain text version"))),
        label=_l("Email formatting"),
        help=_l("Whether emails are sent as plain text, as HTML, or as both (mail programs show the version "
                "they prefer)."))
declare("smtp", False, "bool", tab="email", group="sending", label=_l("Send emails using an SMTP server"),
        help=_l("Deliver email through the SMTP server below. When off, email goes to the mail server on "
                "this machine (localhost, port 25)."))
declare("smtp_host_name", "localhost", "host", tab="email", group="sending", max_length=255,
        label=_l("SMTP host"), help=_l("The SMTP server's host name or IP address (no http://, no port)."))
declare("smtp_host_port", 25, "int", tab="email", group="sending", min=1, max=65535, label=_l("SMTP port"),
        help=_l("Usually 587 with TLS, 465 with SSL, or 25."))
declare("smtp_timeout", 20, "int", tab="email", group="sending", min=1, max=300, unit=_l("seconds"),
        label=_l("SMTP timeout"),
        help=_l("How long to wait for the SMTP server before giving up (the email is retried later)."))
declare("smtp_enc", "", "choice", tab="email", group="sending", control="radio",
        choices=(("", _l("None")), ("ssl", "SSL"), ("tls", "TLS (STARTTLS)")),
        label=_l("SMTP encryption"),
        help=_l("SSL encrypts from the start (usually port 465); TLS upgrades a plain connection with "
                "STARTTLS (usually port 587)."))
declare("smtp_noval_cert", False, "bool", tab="email", group="sending",
        label=_l("Do not validate the SMTP server's certificate"),
        help=_l("Accept a self-signed or expired certificate. This weakens encryption: use it only for a "
                "server you control."))
declare("smtp_user", "", "str", tab="email", group="sending", max_length=255, label=_l("SMTP username"),
        help=_l("Leave empty when the server needs no login."))
declare("smtp_password", "", "password", tab="email", group="sending", secret=True, max_length=255,
        label=_l("SMTP password"),
        help=_l("Stored encrypted and never shown again; leave the field empty to keep the stored one."))

# --- Email: email to ticket ------------------------------------------------------------------
declare("email_piping", False, "bool", tab="email", group="email_to_ticket", label=_l("Email piping"),
        help=_l("Turn emails that your mail server passes to \"hesk-py pipe\" into tickets and replies."))
declare("strip_quoted", True, "bool", tab="email", group="email_to_ticket", label=_l("Strip quoted reply"),
        help=_l("Delete the quoted earlier message (below \"Reply above this line\") from customer emails."))
declare("eml_req_msg", False, "bool", tab="email", group="email_to_ticket", label=_l("Require message"),
        help=_l("Ignore imported emails that have no message text."))
declare("save_embedded", True, "bool", tab="email", group="email_to_ticket", label=_l("Embedded files"),
        help=_l("Save pictures embedded in emails as attachments (real attachments come first when the "
                "number of attachments is limited)."))
declare("email_include_to", False, "bool", tab="email", group="email_to_ticket",
        label=_l("Add To: addresses as followers"),
        help=_l("Add the other addresses in an email's To: header as ticket followers (needs \"Ticket "
                "followers\"). The \"From:\" address and the SMTP, IMAP and POP3 logins are never added; ban "
                "any other address of the help desk (the one mail is piped from), or emails will loop."))
declare("email_include_cc", False, "bool", tab="email", group="email_to_ticket",
        label=_l("Add Cc: addresses as followers"),
        help=_l("Add the addresses in an email's Cc: header as ticket followers (needs \"Ticket followers\")."))

# --- Email: IMAP -----------------------------------------------------------------------------
declare("imap", False, "bool", tab="email", group="imap", label=_l("IMAP fetching"),
        help=_l("Import emails from a mailbox over IMAP each time \"hesk-py cron\" runs."))
declare("imap_job_wait", 15, "int", tab="email", group="imap", min=0, max=1440, unit=_l("minutes"),
        label=_l("Task timeout"),
        help=_l("A fetch is not started while the previous one runs, unless it started this long ago. 0 "
                "always starts one."))
declare("imap_host_name", "mail.example.com", "host", tab="email", group="imap", max_length=255,
        label=_l("IMAP host"), help=_l("The IMAP server's host name or IP address (no http://, no port)."))
declare("imap_host_port", 993, "int", tab="email", group="imap", min=1, max=65535, label=_l("IMAP port"),
        help=_l("Usually 993 with SSL, or 143."))
declare("imap_enc", "ssl", "choice", tab="email", group="imap", control="radio",
        choices=(("", _l("None")), ("ssl", "SSL"), ("tls", "TLS (STARTTLS)")), label=_l("IMAP encryption"),
        help=_l("SSL encrypts from the start (usually port 993); TLS upgrades a plain connection (port 143)."))
declare("imap_noval_cert", False, "bool", tab="email", group="imap",
        label=_l("Do not validate the IMAP server's certificate"),
        help=_l("Accept a self-signed or expired certificate. Use it only for a server you control."))
declare("imap_keep", False, "bool", tab="email", group="imap", label=_l("Keep a copy"),
        help=_l("Leave imported emails in the mailbox (marked read). When off, they are deleted."))
declare("imap_user", "", "str", tab="email", group="imap", max_length=255, label=_l("IMAP username"),
        help=_l("The mailbox login, often the full email address."))
declare("imap_password", "", "password", tab="email", group="imap", secret=True, max_length=255,
        label=_l("IMAP password"),
        help=_l("Stored encrypted and never shown again; leave the field empty to keep the stored one."))
declare("imap_mailbox", "INBOX", "str", tab="email", group="imap", required=True, max_length=255,
        label=_l("IMAP mailbox"), help=_l("The folder to import from, usually INBOX (Gmail: [Gmail]/All Mail)."))

# --- Email: POP3 -----------------------------------------------------------------------------
declare("pop3", False, "bool", tab="email", group="pop3", label=_l("POP3 fetching"),
        help=_l("Import emails from a mailbox over POP3 each time \"hesk-py cron\" runs."))
declare("pop3_job_wait", 15, "int", tab="email", group="pop3", min=0, max=1440, unit=_l("minutes"),
        label=_l("Task timeout"),
        help=_l("A fetch is not started while the previous one runs, unless it started this long ago. 0 "
                "always starts one."))
declare("pop3_host_name", "mail.example.com", "host", tab="email", group="pop3", max_length=255,
        label=_l("POP3 host"), help=_l("The POP3 server's host name or IP address (no http://, no port)."))
declare("pop3_host_port", 110, "int", tab="email", group="pop3", min=1, max=65535, label=_l("POP3 port"),
        help=_l("Usually 995 with TLS, or 110."))
declare("pop3_tls", False, "bool", tab="email", group="pop3", label=_l("TLS"),
        help=_l("Connect with TLS from the start (usually port 995)."))
declare("pop3_keep", False, "bool", tab="email", group="pop3", label=_l("Keep a copy"),
        help=_l("Leave imported emails on the server. When off, they are deleted."))
declare("pop3_user", "", "str", tab="email", group="pop3", max_length=255, label=_l("POP3 username"),
        help=_l("The mailbox login, often the full email address."))
declare("pop3_password", "", "password", tab="email", group="pop3", secret=True, max_length=255,
        label=_l("POP3 password"),
        help=_l("Stored encrypted and never shown again; leave the field empty to keep the stored one."))

# --- Email: ignore emails and prevent loops --------------------------------------------------
declare("pipe_block_noreply", True, "bool", tab="email", group="loops", label=_l("Do not reply"),
        help=_l("Ignore emails from addresses like noreply@ or do-not-reply@."))
declare("pipe_block_returned", True, "bool", tab="email", group="loops", label=_l("Returned"),
        help=_l("Ignore bounces, delivery reports and automatic replies (\"Out of office\", "
                "\"Undeliverable\")."))
declare("pipe_block_duplicate", True, "bool", tab="email", group="loops", label=_l("Duplicates"),
        help=_l("Ignore an email identical to one received from the same sender within the timeframe below."))
declare("loop_hits", 6, "int", tab="email", group="loops", min=0, max=999, label=_l("Max hits"),
        help=_l("Ignore a sender after this many emails within the timeframe below (an email loop). 0 turns "
                "it off."))
declare("loop_time", 300, "int", tab="email", group="loops", min=1, max=86400, unit=_l("seconds"),
        label=_l("Timeframe"), help=_l("The time window for \"Max hits\" and \"Duplicates\"."))
declare("pipe_customer_rejection_notification", True, "bool", tab="email", group="loops",
        label=_l("Customer rejection emails"),
        help=_l("Tell senders why their email was not imported when customer accounts are required (never "
                "for spam or duplicates)."))
declare("pipe_customer_rejection_email_cooldown_hours", 24, "int", tab="email", group="loops", min=0, max=999,
        unit=_l("hours"), label=_l("Time between rejection emails"),
        help=_l("The least time between two rejection emails to the same sender."))

# --- Email: detect typos ---------------------------------------------------------------------
declare("detect_typos", True, "bool", tab="email", group="typos", label=_l("Detect email typos"),
        help=_l("Suggest a correction when an email address looks like a common provider mistyped "
                "(gmial.com -> gmail.com). The customer ticket form asks once, beside the field (\"Did you "
                "mean ...?\"), and the customer takes the suggestion or keeps what they typed; with JavaScript "
                "the question also appears while typing, there and on the staff \"New ticket\" form."))
declare("email_providers",
        ["aim.com", "aol.com", "att.net", "bellsouth.net", "btinternet.com", "charter.net", "comcast.net",
         "cox.net", "earthlink.net", "gmail.com", "gmx.com", "gmx.de", "googlemail.com", "hotmail.com",
         "icloud.com", "juno.com", "live.com", "mac.com", "mail.com", "mail.ru", "me.com", "msn.com",
         "outlook.com", "protonmail.com", "rocketmail.com", "sbcglobal.net", "t-online.de", "ukr.net",
         "verizon.net", "web.de", "yahoo.com", "yandex.ru", "ymail.com"],
        "list", tab="email", group="typos", check=_domains, control="textarea", max_length=253,
        label=_l("Email providers"),
        help=_l("The domains typos are compared with, one per line. An address at one of them is never "
                "questioned."))

# --- Email: notify customers -----------------------------------------------------------------
declare("notify_new", True, "bool", tab="email", group="notify", label=_l("A new ticket is submitted"),
        help=_l("Email customers a confirmation with their tracking ID when they submit a ticket."))
declare("notify_skip_spam", True, "bool", tab="email", group="notify",
        label=_l("Except for emails marked as spam"),
        help=_l("Send no confirmation for tickets made from emails whose subject contains one of the tags "
                "below (so spam gets no answer)."))
declare("notify_spam_tags", ["Spam?}", "***SPAM***", "[SPAM]", "SPAM-LOW:", "SPAM-MED:"], "list",
        tab="email", group="notify", control="textarea", max_length=100, label=_l("Spam tags"),
        help=_l("Tags your spam filter adds to subjects, one per line."))
declare("notify_closed", True, "bool", tab="email", group="notify", label=_l("A ticket is marked resolved"),
        help=_l("Email customers when their ticket is resolved."))

# --- Email: other ----------------------------------------------------------------------------
declare("confirm_email", False, "bool", tab="email", group="email_other", label=_l("Confirm email"),
        help=_l("Customers type their email address twice on the ticket form."))
declare("open_only", True, "bool", tab="email", group="email_other", label=_l("Open tickets only"),
        help=_l("The \"Forgot tracking ID\" email lists only open tickets."))

# --- Ticket list -----------------------------------------------------------------------------
TICKET_LIST_COLUMNS = (
    ("id", _l("ID")), ("trackid", _l("Tracking ID")), ("dt", _l("Submitted")), ("lastchange", _l("Updated")),
    ("category", _l("Category")), ("name", _l("Customer")), ("email", _l("Email")), ("subject", _l("Subject")),
    ("status", _l("Status")), ("owner", _l("Owner")), ("replies", _l("Replies")),
    ("staffreplies", _l("Staff replies")), ("lastreplier", _l("Last replier")),
    ("time_worked", _l("Time worked")), ("priority", _l("Priority")), ("due_date", _l("Due date")),
)
declare("ticket_list", ["trackid", "lastchange", "name", "subject", "status", "lastreplier"], "list",
        tab="ticket_list", group="ticket_list", choices=TICKET_LIST_COLUMNS, control="checkboxes",
        required=True, label=_l("Columns of the staff ticket list"),
        help=_l("The columns staff see in ticket lists. Keep the ID, the tracking ID or the subject, so "
                "tickets can be opened."))
declare("customer_ticket_list", ["id", "trackid", "lastchange", "subject", "status"], "list",
        tab="ticket_list", group="ticket_list", control="checkboxes", required=True,
        choices=tuple(c for c in TICKET_LIST_COLUMNS if c[0] not in ("name", "email", "lastreplier")),
        label=_l("Columns of the customer ticket list"),
        help=_l("The columns customers see in \"My tickets\" (with customer accounts)."))
DATE_DISPLAY = ((2, _l("Help desk style (time today, \"Yesterday\", then the date)")), (1, _l("Date and time")),
                (3, _l("Date only")), (0, _l("Short descriptive (1w 2d)")), (4, _l("Custom format (below)")))
declare("submittedformat", 2, "choice", tab="ticket_list", group="ticket_list", control="radio",
        choices=DATE_DISPLAY, label=_l("\"Submitted\" column"), help=_l("How the \"Submitted\" date is shown."))
declare("format_submitted", "%Y-%m-%d %H:%M:%S", "str", tab="ticket_list", group="ticket_list", max_length=64,
        required=True, check=_date_format, label=_l("Custom \"Submitted\" format"),
        help=_l("Used with \"Custom format\": strftime codes, like %Y-%m-%d %H:%M."))
declare("updatedformat", 2, "choice", tab="ticket_list", group="ticket_list", control="radio",
        choices=DATE_DISPLAY, label=_l("\"Updated\" column"), help=_l("How the \"Updated\" date is shown."))
declare("format_updated", "%Y-%m-%d %H:%M:%S", "str", tab="ticket_list", group="ticket_list", max_length=64,
        required=True, check=_date_format, label=_l("Custom \"Updated\" format"),
        help=_l("Used with \"Custom format\": strftime codes, like %Y-%m-%d %H:%M."))
declare("email_column", 0, "choice", tab="ticket_list", group="ticket_list", control="radio",
        choices=((0, _l("Show a \"View\" link")), (1, _l("Show the full email address"))),
        label=_l("Email column"), help=_l("What the Email column of the staff ticket list shows."))

# --- Misc: date & time -----------------------------------------------------------------------
declare("timezone", "UTC", "str", tab="misc", group="datetime", max_length=64, control="timezone",
        check=_time_zone, label=_l("Time zone"),
        help=_l("Dates and times on every page and in emails are shown in this time zone."))
declare("format_time", "%H:%M:%S", "str", tab="misc", group="datetime", max_length=64, required=True,
        check=_date_format, label=_l("Time format"), help=_l("strftime codes, like %H:%M:%S (14:05:09)."))
declare("format_date", "%Y-%m-%d", "str", tab="misc", group="datetime", max_length=64, required=True,
        check=_date_format, label=_l("Date format"), help=_l("strftime codes, like %Y-%m-%d (2024-03-31)."))
declare("format_timestamp", "%Y-%m-%d %H:%M:%S", "str", tab="misc", group="datetime", max_length=64,
        required=True, check=_date_format, label=_l("Date and time format"),
        help=_l("strftime codes, like %Y-%m-%d %H:%M:%S."))
declare("time_display", 1, "choice", tab="misc", group="datetime", control="radio",
        choices=((1, _l("Time ago (5 hours ago), the exact time on hover")), (0, _l("Date and time"))),
        label=_l("Time display"), help=_l("How ticket times are shown to staff."))

# --- Misc: other -----------------------------------------------------------------------------
declare("ip_whois", "https://whois.domaintools.com/{IP}", "url", tab="misc", group="other", max_length=255,
        check=_whois_url, label=_l("IP WHOIS"),
        help=_l("The address that looks up a ticket's IP address; {IP} is replaced by the address."))
declare("maintenance_mode", False, "bool", tab="misc", group="other", label=_l("Maintenance mode"),
        help=_l("Customers see a maintenance notice instead of the help desk; staff work as usual. Email "
                "fetching pauses; piped emails are still accepted."))
declare("alink", True, "bool", tab="misc", group="other", label=_l("Admin link"),
        help=_l("Show a link to the staff panel at the bottom of the help desk home page."))
declare("submit_notice", False, "bool", tab="misc", group="other", label=_l("Submit notice"),
        help=_l("Remind customers on the ticket form to check what they typed, and that their IP address "
                "is recorded."))
declare("online", False, "bool", tab="misc", group="other", label=_l("Users online"),
        help=_l("List the staff who are online at the bottom of the staff home page (the ticket list), for "
                "staff allowed to view online staff members."))
declare("online_min", 10, "int", tab="misc", group="other", min=1, max=999, unit=_l("minutes"),
        label=_l("Online timeout"),
        help=_l("Staff count as online this many minutes after they last opened a page (the time is noted at "
                "most once a minute). Logging out takes them off the list at once."))


# ---------------------------------------------------------------------------------------------
# Rules between settings (HESK checks them on save too). Each returns {key: message}; the message
# goes beside a field the admin just submitted when one of the rule's keys was submitted.
# ---------------------------------------------------------------------------------------------

def _blame(submitted: set[str], *keys: str) -> str:
    return next((k for k in keys if k in submitted), keys[0])


@rule
def _anti_spam(v, submitted):
    public_form_open = v["kb_enable"] != 2
    if public_form_open and v["secimg_use"] == 0 and not v["question_use"]:
        return {_blame(submitted, "secimg_use", "question_use", "kb_enable"): _l(
            "Keep at least one anti-SPAM measure on (the anti-SPAM image or the anti-SPAM question) while "
            "customers can submit tickets.")}
    return {}


@rule
def _question(v, submitted):
    errors = {}
    if v["question_use"]:
        if not v["question_ask"].strip():
            errors["question_ask"] = _l("Type the anti-SPAM question, or turn the question off.")
        if not v["question_ans"].strip():
            errors["question_ans"] = _l("Type the answer, or turn the question off.")
    return errors


@rule
def _mail_servers(v, submitted):
    errors = {}
    for switch, host in (("smtp", "smtp_host_name"), ("imap", "imap_host_name"), ("pop3", "pop3_host_name")):
        if v[switch] and not v[host]:
            errors[host] = _l("Type the server's host name, or turn this off.")
    for switch, user in (("imap", "imap_user"), ("pop3", "pop3_user")):
        if v[switch] and not v[user]:
            errors[user] = _l("Type the mailbox username, or turn this off.")
    return errors


@rule
def _openable_ticket_list(v, submitted):
    if not {"id", "trackid", "subject"} & set(v["ticket_list"]):
        return {"ticket_list": _l("Keep the ID, the tracking ID or the subject column, so tickets can be opened.")}
    return {}


@rule
def _view_needs_email(v, submitted):
    # HESK forces "Email for viewing tickets" off when email is optional: without an email there is
    # nothing to ask for. Here the admin is told instead of the value changing behind their back.
    if v["email_view_ticket"] and not v["require_email"]:
        return {_blame(submitted, "email_view_ticket", "require_email"): _l(
            "\"View tickets\" asks for the customer's email, so it needs \"Require email\" on.")}
    return {}


@rule
def _samesite_none_needs_https(v, submitted):
    if v["samesite"] == "None" and not str(v["hesk_url"]).lower().startswith("https://"):
        return {_blame(submitted, "samesite", "hesk_url"): _l(
            "SameSite=None cookies work only over https: make the help desk URL https first.")}
    return {}


@rule
def _force_ssl_needs_https(v, submitted):
    if v["force_ssl"] and not str(v["hesk_url"]).lower().startswith("https://"):
        return {_blame(submitted, "force_ssl", "hesk_url"): _l(
            "Force SSL needs a help desk URL starting with https://.")}
    return {}


# ---------------------------------------------------------------------------------------------
# Settings of features that are not built yet. They keep their key, default and validation (a value
# stored now is used once the feature exists), but the settings page shows them disabled with a note.
# ---------------------------------------------------------------------------------------------

def _mark_pending(feature: Any, *keys: str) -> None:
    from dataclasses import replace

    for key in keys:
        _REGISTRY[key] = replace(definition(key), pending=feature)


