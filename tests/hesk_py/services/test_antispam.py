"""The anti-spam service: form tokens, the CAPTCHA, the question, header injection, one-time nonces."""
from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.services import antispam


def test_tokens_round_trip_and_forgeries_fail(app_ctx):
    token = antispam.read_token(antispam.issue_token())
    assert token is not None and len(token.nonce) == 32 and 0 <= token.age < 5
    assert antispam.read_token(None) is None
    assert antispam.read_token("x" * 600) is None
    forged = URLSafeTimedSerializer("another-secret", salt="hesk-form-token").dumps({"n": "0" * 32, "t": 0})
    assert antispam.read_token(forged) is None


def test_captcha_is_tied_to_the_nonce(app_ctx):
    a = antispam.read_token(antispam.issue_token())
    b = antispam.read_token(antispam.issue_token())
    code = antispam.captcha_code(a.nonce)
    assert len(code) == 5 and code.isdigit()
    assert antispam.captcha_code(a.nonce) == code  # stable for one form
    assert antispam.captcha_ok(a, code) and antispam.captcha_ok(a, f" {code[:2]} {code[2:]} ")
    assert not antispam.captcha_ok(b, code) or antispam.captcha_code(b.nonce) == code
    assert not antispam.captcha_ok(None, code)
    png = antispam.captcha_png(a.nonce)
    assert png.startswith(b"\x89PNG") and png != antispam.captcha_png(a.nonce)  # drawn anew each time


@pytest.mark.parametrize("value, bad", [("Plain name", False), ("Ünïcödé Näme", False), ("a\rb", True),
                                        ("a\nb", True), ("a\tb", True), ("a\x00b", True), ("a\u2028b", True),
                                        ("", False), (None, False)])
def test_header_injection(value, bad):
    assert antispam.has_header_injection(value) is bad


def test_check_form_reports_each_problem(app_ctx):
    settings.save({"question_use": True, "spam_min_fill_seconds": 60})
    token = antispam.issue_token()
    parsed, errors = antispam.check_form({"hx": "3", "hy": "", "hesk_form": token, "question": "no"},
                                         captcha=True, question=True)
    assert parsed is not None
    assert set(errors) == {"form", "question", "captcha"}
    with pytest.raises(antispam.SpamBlocked):
        antispam.check_form({"hx": "3", "hy": "", "phone": "1"}, captcha=False, question=False)


def test_a_nonce_is_spent_once(app_ctx):
    nonce = antispam.read_token(antispam.issue_token()).nonce
    antispam.spend_nonce(nonce)
    antispam.note_trackid(nonce, "AAA-BBB-CCCC")
    db.session.commit()
    with pytest.raises(antispam.AlreadySubmitted) as exc:
        antispam.spend_nonce(nonce)
    assert exc.value.trackid == "AAA-BBB-CCCC"


def test_fill_time(app_ctx):
    settings.save({"spam_min_fill_seconds": 1})
    token = antispam.issue_token()
    _parsed, errors = antispam.check_form({"hx": "3", "hy": "", "hesk_form": token}, captcha=False, question=False)
    assert "form" in errors
    time.sleep(1.05)
    _parsed, errors = antispam.check_form({"hx": "3", "hy": "", "hesk_form": token}, captcha=False, question=False)
    assert errors == {}
