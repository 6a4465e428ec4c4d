"""Anti-spam for the customer forms, with no third-party service.

- Honeypot fields (HESK's ``hx``/``hy``, and a ``phone`` field no person ever sees): robots that fill
  every field, or drop the hidden ones, are refused outright.
- A signed form token (itsdangerous) issued with the form. It carries a one-time nonce and the time the
  form was shown: a form posted faster than the minimum fill time, or with a forged or stale token,
  comes back to be submitted again (with what was typed). The nonce is spent when the ticket is filed,
  in the same transaction, so a double click or a replayed POST files nothing twice.
- The built-in CAPTCHA (``secimg_use``): a PNG of a 5-digit number drawn here (no PIL, no external
  service). The number is derived from the form's nonce with an HMAC of the secret key, so it needs no
  server-side state and cannot be replayed once the nonce is spent.
- The anti-spam question (``question_use``): ``question_ask`` / ``question_ans``, not case sensitive.
- Header-injection characters (CR, LF, tab, other control characters, Unicode line separators) are
  refused in one-line fields that may end up in email headers.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
import struct
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping

import nh3
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy import delete, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import UsedFormToken
from hesk_py.models.types import utcnow
from hesk_py.services.errors import HeskError

# Hidden fields and the values a browser sends back untouched (HESK's names).
HONEYPOT_VALUES = {"hx": "3", "hy": ""}
# A field that is never on the form: only a robot guessing field names sends it.
HONEYPOT_ABSENT = "phone"
TOKEN_FIELD = "hesk_form"
CAPTCHA_FIELD = "captcha"
QUESTION_FIELD = "question"
# A form older than this must be posted again (what was typed comes back with a fresh token).
TOKEN_MAX_AGE = 24 * 3600
CAPTCHA_DIGITS = 5

_HEADER_INJECTION = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_QUESTION_TAGS = {"b", "i", "em", "strong", "u", "br", "code", "span", "small", "sup", "sub"}


class SpamBlocked(HeskError):
    """A robot for certain (a honeypot was touched): answered with 403, nothing is shown back."""


class AlreadySubmitted(HeskError):
    """This form's one-time nonce was already spent. ``trackid`` is the ticket it filed, when known."""

    def __init__(self, trackid: str | None = None):
        super().__init__(str(_l("This form has already been submitted.")))
        self.trackid = trackid


@dataclass(frozen=True)
class FormToken:
    nonce: str
    issued_at: float

    @property
    def age(self) -> float:
        # issued_at is kept to the millisecond: a token read back at once may look a hair younger than 0
        return max(0.0, time.time() - self.issued_at)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hesk-form-token")


def issue_token() -> str:
    """A fresh signed token for a form being shown now."""
    return _serializer().dumps({"n": secrets.token_hex(16), "t": round(time.time(), 3)})


def read_token(value: str | None) -> FormToken | None:
    """The token's contents, or None when it is missing, forged or older than TOKEN_MAX_AGE."""
    if not value or len(value) > 500:
        return None
    try:
        data = _serializer().loads(value, max_age=TOKEN_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not re.fullmatch(r"[0-9a-f]{32}", str(data.get("n", ""))):
        return None
    try:
        issued = float(data.get("t"))
    except (TypeError, ValueError):
        return None
    return FormToken(nonce=data["n"], issued_at=issued)


def has_header_injection(value: str | None) -> bool:
    """True when a one-line value carries characters that could start a new mail header."""
    return bool(value) and _HEADER_INJECTION.search(value) is not None


def honeypot_tripped(data: Mapping[str, str]) -> bool:
    if HONEYPOT_ABSENT in data:
        return True
    return any(data.get(name) != expected for name, expected in HONEYPOT_VALUES.items())


def captcha_required(*, staff: bool = False) -> bool:
    """``secimg_use``: 0 off, 1 on the customer forms, 2 also for logged-in staff."""
    level = int(settings.get("secimg_use") or 0)
    return level >= (2 if staff else 1)


def question_required() -> bool:
    return bool(settings.get("question_use"))


# the question a help desk starts with (settings.py's default): shown in the page's language while unchanged
_DEFAULT_QUESTION = "Type <i>PB6YM</i> here to fight SPAM:"


def question_html() -> Markup:
    """The admin's question; it may hold simple formatting (HESK allows HTML), nothing active."""
    asked = str(settings.get("question_ask") or "")
    if asked == _DEFAULT_QUESTION:
        asked = str(_l("Type <i>PB6YM</i> here to fight SPAM:"))
    return Markup(nh3.clean(asked, tags=_QUESTION_TAGS, attributes={}))


def question_ok(answer: str | None) -> bool:
    expected = str(settings.get("question_ans") or "").strip().casefold()
    return bool(expected) and (answer or "").strip().casefold() == expected


def captcha_code(nonce: str) -> str:
    """The number drawn for this form: an HMAC of its nonce, never stored anywhere."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), f"captcha|{nonce}".encode(),
                      hashlib.sha256).digest()
    low = 10 ** (CAPTCHA_DIGITS - 1)
    return str(low + int.from_bytes(digest[:8], "big") % (9 * low))


def captcha_ok(token: FormToken | None, answer: str | None) -> bool:
    if token is None:
        return False
    answer = re.sub(r"\s+", "", answer or "")
    return hmac.compare_digest(answer.encode(), captcha_code(token.nonce).encode())


def min_fill_seconds() -> int:
    return int(settings.get("spam_min_fill_seconds"))


def check_form(data: Mapping[str, str], *, captcha: bool, question: bool) -> tuple[FormToken | None, dict[str, str]]:
    """Check a posted form's anti-spam parts. Raises SpamBlocked for a certain robot; otherwise returns
    the token and {field: message} for what the customer must fix (``form`` is a message for the whole
    form)."""
    if honeypot_tripped(data):
        raise SpamBlocked(str(_l("Your request was refused.")))
    errors: dict[str, str] = {}
    token = read_token(data.get(TOKEN_FIELD))
    if token is None:
        errors["form"] = str(_l("This form has expired. Please check what you typed and submit it again."))
    elif token.age < min_fill_seconds():
        errors["form"] = str(_l("The form was sent faster than a person can fill it in. Please check it "
                                "and submit it again."))
    if question and not question_ok(data.get(QUESTION_FIELD)):
        errors[QUESTION_FIELD] = str(_l("Wrong answer to the anti-spam question."))
    if captcha:
        if not (data.get(CAPTCHA_FIELD) or "").strip():
            errors[CAPTCHA_FIELD] = str(_l("Please type the number shown in the image."))
        elif token is not None and not captcha_ok(token, data.get(CAPTCHA_FIELD)):
            errors[CAPTCHA_FIELD] = str(_l("The number does not match the image. Please try again."))
    return token, errors


# --- one-time nonces (the double-submit guard) ---------------------------------------------------

def spend_nonce(nonce: str, trackid: str | None = None) -> None:
    """Mark the nonce used in the current transaction; the caller commits it together with what the
    form creates. ``trackid``: the ticket the form filed (told to a later duplicate).

    Raises AlreadySubmitted (after rolling the transaction back) when it was spent before. One statement
    that skips a duplicate (``INSERT IGNORE`` / ``INSERT OR IGNORE``): a concurrent duplicate waits on the
    row lock of the first one's nonce and then skips, so exactly one of them files a ticket.
    """
    from sqlalchemy import insert

    stmt = insert(UsedFormToken).values(nonce=nonce, created_at=utcnow(), trackid=trackid)
    stmt = stmt.prefix_with("OR IGNORE", dialect="sqlite").prefix_with("IGNORE", dialect="mysql")
    if db.session.execute(stmt).rowcount == 0:
        db.session.rollback()
        earlier = db.session.scalar(select(UsedFormToken.trackid).where(UsedFormToken.nonce == nonce))
        db.session.rollback()
        raise AlreadySubmitted(earlier)
    if random.randrange(200) == 0:
        # spent nonces are only needed while their token is valid
        cutoff = utcnow() - timedelta(seconds=TOKEN_MAX_AGE + 3600)
        db.session.execute(delete(UsedFormToken).where(UsedFormToken.created_at < cutoff))


def note_trackid(nonce: str, trackid: str) -> None:
    """Remember which ticket a spent nonce filed (in the same transaction), for a later duplicate."""
    from sqlalchemy import update

    db.session.execute(update(UsedFormToken).where(UsedFormToken.nonce == nonce).values(trackid=trackid))


# --- the CAPTCHA image -----------------------------------------------------------------------------

# 5x7 bitmap digits
_GLYPHS = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}
_SCALE = 4
_WIDTH, _HEIGHT = 190, 50


def captcha_png(nonce: str) -> bytes:
    """The CAPTCHA for this nonce as a grayscale PNG: jittered, slanted digits over noise."""
    code = captcha_code(nonce)
    rnd = random.Random(secrets.randbits(64))  # a fresh drawing each time; only the number is fixed
    pixels = [bytearray(rnd.randint(215, 255) for _ in range(_WIDTH)) for _ in range(_HEIGHT)]
    for _ in range(6):  # noise lines
        y0, y1 = rnd.randrange(_HEIGHT), rnd.randrange(_HEIGHT)
        shade = rnd.randint(120, 190)
        for x in range(_WIDTH):
            y = y0 + (y1 - y0) * x // _WIDTH
            pixels[y][x] = shade
    x = 12
    for ch in code:
        glyph = _GLYPHS[ch]
        top = 8 + rnd.randint(-5, 5)
        slant = rnd.choice((-1, 0, 1))
        shade = rnd.randint(0, 70)
        for gy, row in enumerate(glyph):
            for gx, bit in enumerate(row):
                if bit != "1":
                    continue
                for dy in range(_SCALE):
                    for dx in range(_SCALE):
                        py = top + gy * _SCALE + dy
                        px = x + gx * _SCALE + dx + slant * (len(glyph) - gy)
                        if 0 <= py < _HEIGHT and 0 <= px < _WIDTH:
                            pixels[py][px] = shade
        x += 5 * _SCALE + rnd.randint(10, 14)
    for _ in range(350):  # speckles
        pixels[rnd.randrange(_HEIGHT)][rnd.randrange(_WIDTH)] = rnd.randint(0, 255)
    return _png_gray(_WIDTH, _HEIGHT, pixels)


def _png_gray(width: int, height: int, rows: list[bytearray]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
