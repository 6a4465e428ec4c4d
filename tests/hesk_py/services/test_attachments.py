"""The attachments service: checks by name, size and content, and the local storage."""
from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import FileStorage

from hesk_py.services import attachments
from hesk_py.services.errors import AttachmentRefused

LIMITS = attachments.Limits(enabled=True, max_number=3, max_size=10 * 1024,
                            allowed_types=(".png", ".pdf", ".txt", ".svg", ".docx", ".mp3"))


def _file(name, content):
    return FileStorage(stream=io.BytesIO(content), filename=name)


def test_a_good_file_passes(app_ctx):
    up = attachments.check_upload(_file("report.pdf", b"%PDF-1.7\n..."), LIMITS)
    assert (up.real_name, up.extension, up.size, up.content_type) == ("report.pdf", ".pdf", 12, "application/pdf")


@pytest.mark.parametrize("name, content, reason", [
    ("a.png", b"GIF89a....", "not really a .png"),
    ("a.docx", b"%PDF-1.4", "not really a .docx"),
    ("a.mp3", b"<html><body>x</body></html>", "not really a .mp3"),
    ("a.mp3", b"#!/bin/sh\nrm -rf /", "not really a .mp3"),
    ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "active content"),
    ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><a xlink:href="javascript:alert(1)">x</a></svg>',
     "active content"),
    ("a.svg", b'<svg><foreignObject><iframe src="x"/></foreignObject></svg>', "active content"),
    ("a.svg", b"just text", "not really a .svg"),
    ("a.php", b"<?php", "not allowed"),
    ("a.exe", b"MZ", "not allowed"),
    ("a.txt\x00.png", b"x", "contains a path"),
])
def test_refusals(app_ctx, name, content, reason):
    with pytest.raises(AttachmentRefused) as exc:
        attachments.check_upload(_file(name, content), LIMITS)
    assert reason in str(exc.value)
    assert exc.value.reasons == [str(exc.value)]


def test_a_clean_svg_passes_when_allowed(app_ctx):
    up = attachments.check_upload(_file("dot.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>'),
                                  LIMITS)
    assert up.content_type == "application/octet-stream"  # never served as an image


def test_size_limit_is_inclusive(app_ctx):
    assert attachments.check_upload(_file("a.txt", b"x" * 10 * 1024), LIMITS).size == 10240
    with pytest.raises(AttachmentRefused):
        attachments.check_upload(_file("a.txt", b"x" * (10 * 1024 + 1)), LIMITS)


def test_every_problem_of_a_post_is_listed(app):
    with app.app_context():
        with pytest.raises(AttachmentRefused) as exc:
            attachments.check_uploads([_file("a.php", b"x"), _file("b.png", b"nope"), _file("", b"")])
    assert len(exc.value.reasons) == 2


def test_storage_round_trip_and_cleanup(app_ctx):
    up = attachments.check_upload(_file("notes.txt", b"hello"), LIMITS)
    rows = attachments.store([up])
    box = attachments.storage()
    path = box.path(rows[0]["saved_name"])
    assert path.read_bytes() == b"hello"
    attachments.discard(rows)
    assert not path.exists()
    for bad in ("../etc/passwd", "x" * 48, "", "/abs"):
        with pytest.raises(FileNotFoundError):
            box.path(bad)
