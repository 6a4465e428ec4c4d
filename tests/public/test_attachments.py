"""Attachments on the public form: accepted files, every refusal with its reason, and downloads only
through the access-checked route as attachments."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hesk_py import PROJECT_ROOT, settings
from hesk_py.extensions import db
from hesk_py.models import Attachment, Ticket
from tests.public.conftest import text_of

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde" \
      b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Ticket)),
                db.session.scalar(select(func.count()).select_from(Attachment)))


def _stored_files(app):
    folder = Path(app.config["HESK_ATTACHMENTS_DIR"])
    return sorted(p.name for p in folder.iterdir() if p.name != ".htaccess") if folder.exists() else []


def test_files_are_stored_under_random_names_and_downloaded_as_attachments(app, client, quick_form, file_ticket):
    resp = file_ticket(client, files=[(io.BytesIO(PNG), "screen shot.png"), (io.BytesIO(PDF), "invoice.pdf")])
    assert resp.status_code == 303
    assert _counts(app) == (1, 2)
    with app.app_context():
        atts = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
        trackid = db.session.scalar(select(Ticket.trackid))
        rows = [(a.id, a.saved_name, a.real_name, a.size, a.content_type) for a in atts]
    assert [r[2] for r in rows] == ["screen shot.png", "invoice.pdf"]
    assert rows[0][3] == len(PNG) and rows[0][4] == "image/png"
    folder = Path(app.config["HESK_ATTACHMENTS_DIR"])
    # outside static/, random names without the original name or extension, a deny-all .htaccess
    assert not str(folder.resolve()).startswith(str((PROJECT_ROOT / "static").resolve()))
    assert _stored_files(app) == sorted(r[1] for r in rows)
    for _id, saved, real, *_ in rows:
        assert len(saved) == 48 and "." not in saved and real not in saved
    assert "Require all denied" in (folder / ".htaccess").read_text()
    assert oct(os.stat(folder / rows[0][1]).st_mode & 0o777) == "0o600"

    page = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "screen shot.png" in page and "invoice.pdf" in page
    dl = client.get(f"/ticket/attachment/{rows[0][0]}?track={trackid}")
    assert dl.status_code == 200
    assert dl.data == PNG
    assert dl.headers["Content-Disposition"].startswith("attachment;")
    assert "screen shot.png" in dl.headers["Content-Disposition"]
    assert dl.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in dl.headers["Content-Security-Policy"]
    assert dl.headers["Cache-Control"] == "private, no-store"
    assert dl.mimetype == "image/png"


@pytest.mark.parametrize("name, content, reason", [
    ("shell.php", b"<?php system($_GET['c']); ?>", "files of type .php are not allowed"),
    ("x.jpg.php", b"\xff\xd8\xff\xe0<?php ?>", "files of type .php are not allowed"),
    ("page.png", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
     "is not really a .png file"),
    ("page.html", b"<html><script>alert(1)</script></html>", "files of type .html are not allowed"),
    ("page.xhtml", b"<html xmlns='http://www.w3.org/1999/xhtml'/>", "files of type .xhtml are not allowed"),
    ("x.phtml", b"<?php ?>", "files of type .phtml are not allowed"),
    ("x.pht", b"<?php ?>", "files of type .pht are not allowed"),
    ("x.phar", b"<?php __HALT_COMPILER();", "files of type .phar are not allowed"),
    ("x.py", b"import os", "files of type .py are not allowed"),
    ("script.pdf", b"<?php echo 1; ?>", "is not really a .pdf file"),
    ("notes.zip", b"MZ\x90\x00\x03\x00\x00\x00", "is not really a .zip file"),
    ("../../../etc/passwd.txt", b"root:x:0:0", "contains a path"),
    ("/etc/cron.d/evil.txt", b"* * * * * root sh", "contains a path"),
    ("uploads/../../x.txt", b"hello", "contains a path"),
    ("C:\\temp\\x.txt", b"hello", "contains a path"),
    (".htaccess", b"Options +ExecCGI", "is not allowed"),
    ("noextension", b"hello", "has no file extension"),
    ("empty.txt", b"", "is empty"),
])
def test_dangerous_or_disguised_files_are_refused_with_a_reason(app, client, quick_form, file_ticket, name, content,
                                                                  reason):
    resp = file_ticket(client, files=[(io.BytesIO(content), name)], message="Keep me")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert reason in text_of(html)
    assert 'id="attachments-error" role="alert"' in html
    assert "Keep me</textarea>" in html
    assert _counts(app) == (0, 0)
    assert _stored_files(app) == []


@pytest.mark.parametrize("name", ["logo.svg", "logo.png", "logo.gif", "logo.jpg"])
def test_an_svg_with_a_script_is_refused(app, client, quick_form, file_ticket, name):
    evil = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
    resp = file_ticket(client, files=[(io.BytesIO(evil), name)])
    assert resp.status_code == 400
    text = text_of(resp.get_data(as_text=True))
    if name.endswith(".svg"):
        assert "files of type .svg are not allowed" in text  # SVG can never be allowed (settings refuse it)
    else:
        assert f"is not really a {name[-4:]} file" in text
    assert _counts(app) == (0, 0)
    assert _stored_files(app) == []


def test_an_oversize_file_is_refused(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"attachments.max_size": 1})
    big = PDF + b"0" * 2000
    resp = file_ticket(client, files=[(io.BytesIO(big), "big.pdf")])
    assert resp.status_code == 400
    assert '"big.pdf" is too large (2 KB). The limit is 1 KB per file.' in text_of(resp.get_data(as_text=True))
    assert _counts(app) == (0, 0)


def test_too_many_files_are_refused(app, client, quick_form, file_ticket):
    files = [(io.BytesIO(PDF), f"f{i}.pdf") for i in range(3)]
    resp = file_ticket(client, files=files)
    assert resp.status_code == 400
    assert "You can attach at most 2 files." in text_of(resp.get_data(as_text=True))


def test_no_attachments_when_turned_off(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"attachments.use": False})
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="attachments"' not in html
    resp = file_ticket(client, files=[(io.BytesIO(PDF), "a.pdf")])
    assert resp.status_code == 400
    assert "Attachments are not accepted." in text_of(resp.get_data(as_text=True))


def test_downloads_need_access_to_the_ticket(app, client, quick_form, file_ticket, make_ticket):
    file_ticket(client, email="owner@example.com", files=[(io.BytesIO(PDF), "secret.pdf")])
    with app.app_context():
        att_id = db.session.scalar(select(Attachment.id))
        trackid = db.session.scalar(select(Ticket.trackid))
    other_trackid = make_ticket(email="intruder@example.com")
    stranger = app.test_client()
    # without the email: the look-up form, not the file
    resp = stranger.get(f"/ticket/attachment/{att_id}?track={trackid}")
    assert resp.status_code == 200 and b"%PDF" not in resp.data
    assert b"Enter the email address you used" in resp.data
    # with a wrong email: not found
    resp = stranger.get(f"/ticket/attachment/{att_id}?track={trackid}&e=intruder@example.com")
    assert resp.status_code == 404 and b"%PDF" not in resp.data
    # with access to another ticket only: not found
    stranger.get(f"/ticket?track={other_trackid}&e=intruder@example.com")
    resp = stranger.get(f"/ticket/attachment/{att_id}?track={other_trackid}")
    assert resp.status_code == 404 and b"%PDF" not in resp.data
    # the right email: the file
    resp = stranger.get(f"/ticket/attachment/{att_id}?track={trackid}&e=owner@example.com")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert stranger.get("/ticket/attachment/999999").status_code == 404


def test_note_attachments_are_never_downloaded_by_customers(app, client, quick_form, file_ticket, admin):
    file_ticket(client)
    with app.app_context():
        from hesk_py.models import User
        from hesk_py.services import attachments, tickets

        ticket = db.session.scalar(select(Ticket))
        saved = attachments.storage().save(io.BytesIO(PDF))
        note = tickets.add_note(ticket, message="internal", actor=tickets.Actor.staff(db.session.get(User, admin)),
                                attachments=[{"saved_name": saved, "real_name": "internal.pdf", "size": len(PDF),
                                              "content_type": "application/pdf"}])
        att_id = db.session.scalar(select(Attachment.id).where(Attachment.note_id == note.id))
        trackid = ticket.trackid
    page = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "internal.pdf" not in page and "internal" not in text_of(page).split()
    assert client.get(f"/ticket/attachment/{att_id}?track={trackid}").status_code == 404


def test_an_attachment_id_alone_never_leads_to_a_ticket(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"email_view_ticket": False})
    file_ticket(client, files=[(io.BytesIO(PDF), "private.pdf")])
    with app.app_context():
        att_id = db.session.scalar(select(Attachment.id))
        trackid = db.session.scalar(select(Ticket.trackid))
    stranger = app.test_client()
    resp = stranger.get(f"/ticket/attachment/{att_id}")  # guessing sequential ids
    assert resp.status_code == 404 and b"%PDF" not in resp.data
    assert client.get(f"/ticket/attachment/{att_id}").data.startswith(b"%PDF")  # the submitter's browser
    assert stranger.get(f"/ticket/attachment/{att_id}?track={trackid}").data.startswith(b"%PDF")
