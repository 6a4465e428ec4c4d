"""Attachments: checking uploads, storing them, and finding them again for an access-checked download.

Rules (HESK's, made stricter where HESK was weak):
- on only when ``attachments.use``; at most ``attachments.max_number`` files per post, each at most
  ``attachments.max_size`` KB, with an extension from ``attachments.allowed_types``;
- script and markup extensions (.php and friends, .html, .js, executables ...) are refused even when
  an admin lists them;
- the type is checked by content (magic numbers, puremagic): a ``.png`` must be a PNG; HTML, PHP or an
  executable renamed to an allowed extension is refused; an SVG is refused when it carries a script
  or any other active content;
- a name with a path in it (``../../x``, ``C:\\x``) is refused: browsers send only the file name;
- files are stored outside ``static/`` under random names without extension
  (``app.config["HESK_ATTACHMENTS_DIR"]``, a deny-all ``.htaccess`` for shared hosting) and are
  only ever sent through an access-checked route as a download (``Content-Disposition: attachment``,
  ``X-Content-Type-Options: nosniff``, a sandboxing CSP), never inline.

Every refusal raises ``AttachmentRefused`` whose message names the file and the reason; ``reasons``
lists one message per refused file.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable

import puremagic
from flask import current_app
from flask_babel import lazy_gettext as _l

from hesk_py import settings
from hesk_py.services.errors import AttachmentRefused

# Never accepted, whatever the settings say: they run on a web server or in a browser.
ALWAYS_REFUSED = frozenset({
    ".php", ".php3", ".php4", ".php5", ".php6", ".php7", ".php8", ".phps", ".phtml", ".pht", ".phar",
    ".inc", ".shtml", ".shtm", ".stm", ".cgi", ".pl", ".py", ".pyc", ".rb", ".asp", ".aspx", ".ascx",
    ".ashx", ".asmx", ".cer", ".jsp", ".jspx", ".sh", ".bash", ".exe", ".dll", ".bat", ".cmd", ".com",
    ".msi", ".scr", ".vbs", ".vbe", ".wsf", ".hta", ".js", ".mjs", ".jse", ".html", ".htm", ".xhtml",
    ".xht", ".mht", ".mhtml", ".htaccess", ".htpasswd", ".svgz", ".swf", ".jar", ".xsl", ".xslt",
})

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
# Extensions whose content must start with one of these signatures.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".gif": (b"GIF87a", b"GIF89a"),
    ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",), ".jpe": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".bmp": (b"BM",),
    ".tif": (b"II*\x00", b"MM\x00*"), ".tiff": (b"II*\x00", b"MM\x00*"),
    ".pdf": (b"%PDF-",),
    ".zip": _ZIP, ".docx": _ZIP, ".xlsx": _ZIP, ".pptx": _ZIP, ".odt": _ZIP, ".ods": _ZIP, ".odp": _ZIP,
    ".doc": _OLE, ".xls": _OLE, ".ppt": _OLE, ".msg": _OLE,
    ".rar": (b"Rar!\x1a\x07",),
    ".7z": (b"7z\xbc\xaf\x27\x1c",),
    ".gz": (b"\x1f\x8b",), ".tgz": (b"\x1f\x8b",),
}
# What the download announces (always as an attachment). Anything else goes out as octet-stream.
CONTENT_TYPES = {
    ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg",
    ".png": "image/png", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".webp": "image/webp", ".pdf": "application/pdf", ".zip": "application/zip",
    ".rar": "application/vnd.rar", ".7z": "application/x-7z-compressed", ".gz": "application/gzip",
    ".txt": "text/plain", ".csv": "text/csv", ".log": "text/plain",
    ".doc": "application/msword", ".xls": "application/vnd.ms-excel",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4",
}
# Content that must never pass as something else (puremagic's names, and our own first-bytes check).
_DANGEROUS_KINDS = {".html", ".htm", ".xhtml", ".svg", ".xml", ".php", ".js", ".exe", ".dll", ".elf", ".sh",
                    ".swf", ".jar", ".class", ".hta"}
_DANGEROUS_PREFIXES = (b"<?php", b"<?=", b"#!", b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"CWS", b"FWS")
_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|svg|object|embed|meta|link|"
                     rb"style|img|form|a\s|\?xml)", re.IGNORECASE)
_SVG_ACTIVE = re.compile(
    rb"<\s*script|\bon[a-z]+\s*=|javascript\s*:|vbscript\s*:|data\s*:\s*text/html|<\s*foreignobject|"
    rb"<\s*iframe|<\s*embed|<\s*object|<!entity|<\s*handler|<\s*set\b|<\s*animate|xlink:href\s*=\s*[\"']?\s*(?!#)",
    re.IGNORECASE,
)
_SNIFF_BYTES = 64 * 1024
_SAVED_NAME = re.compile(r"^[0-9a-f]{48}$")


@dataclass
class Limits:
    enabled: bool
    max_number: int
    max_size: int  # bytes
    allowed_types: tuple[str, ...]

    @property
    def max_size_kb(self) -> int:
        return self.max_size // 1024


def limits() -> Limits:
    allowed = tuple(
        e for e in (_norm_ext(t) for t in settings.get("attachments.allowed_types") or ()) if e
        and e not in ALWAYS_REFUSED
    )
    return Limits(
        enabled=bool(settings.get("attachments.use")),
        max_number=int(settings.get("attachments.max_number")),
        max_size=int(settings.get("attachments.max_size")) * 1024,
        allowed_types=allowed,
    )


def _norm_ext(value: str) -> str:
    value = (value or "").strip().lower()
    if not value:
        return ""
    return value if value.startswith(".") else "." + value


@dataclass
class Upload:
    """A file that passed every check, not stored yet."""

    real_name: str
    extension: str
    size: int
    content_type: str
    stream: IO[bytes]


def _refuse(reasons: list[str]) -> AttachmentRefused:
    exc = AttachmentRefused(" ".join(reasons))
    exc.reasons = reasons
    return exc


def clean_name(name: str) -> str:
    """The name shown to people: the characters typed, minus control characters, at most 255."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[-255:]


def _name_problem(raw: str) -> str | None:
    if "\x00" in raw or "/" in raw or "\\" in raw or raw.strip() in (".", "..") or re.match(r"^[A-Za-z]:", raw):
        return str(_l("The file name \"%(name)s\" contains a path. Please choose the file itself.",
                      name=clean_name(raw)[:100]))
    if clean_name(raw).startswith("."):
        return str(_l("The file name \"%(name)s\" is not allowed.", name=clean_name(raw)[:100]))
    return None


def check_upload(file: Any, lim: Limits) -> Upload:
    """Check one uploaded file (a werkzeug FileStorage or anything with .filename and .stream).

    Raises AttachmentRefused with the reason.
    """
    raw_name = file.filename or ""
    problem = _name_problem(raw_name)
    if problem:
        raise _refuse([problem])
    name = clean_name(raw_name)
    ext = os.path.splitext(name)[1].lower()
    if not ext:
        raise _refuse([str(_l("\"%(name)s\" has no file extension, so its type cannot be checked.", name=name))])
    if ext in ALWAYS_REFUSED or ext not in lim.allowed_types:
        raise _refuse([str(_l("\"%(name)s\": files of type %(ext)s are not allowed. Allowed types: %(allowed)s.",
                              name=name, ext=ext, allowed=", ".join(lim.allowed_types)))])
    stream = file.stream
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size > lim.max_size:
        raise _refuse([str(_l("\"%(name)s\" is too large (%(size)s KB). The limit is %(limit)s KB per file.",
                              name=name, size=_kb(size), limit=lim.max_size_kb))])
    if size == 0:
        raise _refuse([str(_l("\"%(name)s\" is empty.", name=name))])
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    reason = _content_problem(name, ext, head)
    if reason:
        raise _refuse([reason])
    return Upload(real_name=name, extension=ext, size=size,
                  content_type=CONTENT_TYPES.get(ext, "application/octet-stream"), stream=stream)


def _kb(size: int) -> int:
    return max(1, (size + 1023) // 1024)


def _content_problem(name: str, ext: str, head: bytes) -> str | None:
    mismatch = str(_l("\"%(name)s\" is not really a %(ext)s file: its content does not match its extension.",
                      name=name, ext=ext))
    if ext in SIGNATURES:
        return None if head.startswith(SIGNATURES[ext]) else mismatch
    if ext == ".svg":
        if not re.search(rb"<\s*svg[\s>]", head, re.IGNORECASE):
            return mismatch
        if _SVG_ACTIVE.search(head):
            return str(_l("\"%(name)s\" contains a script or other active content, which is not allowed in "
                          "SVG images.", name=name))
        return None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(_DANGEROUS_PREFIXES):
        return mismatch
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        found = []
    kinds = {m.extension.lower() for m in found[:3]}
    if kinds & _DANGEROUS_KINDS and ext not in kinds and ext not in (".txt", ".csv", ".log"):
        return mismatch
    if ext not in (".txt", ".csv", ".log", ".xml", ".json", ".md") and _MARKUP.match(stripped):
        return mismatch
    return None


def check_uploads(files: Iterable[Any]) -> list[Upload]:
    """Check every non-empty file input of a post. Raises AttachmentRefused listing every problem."""
    files = [f for f in files if f is not None and (f.filename or "")]
    if not files:
        return []
    lim = limits()
    if not lim.enabled:
        raise _refuse([str(_l("Attachments are not accepted."))])
    if len(files) > lim.max_number:
        raise _refuse([str(_l("You can attach at most %(n)s files.", n=lim.max_number))])
    uploads, reasons = [], []
    for f in files:
        try:
            uploads.append(check_upload(f, lim))
        except AttachmentRefused as exc:
            reasons.extend(exc.reasons)
    if reasons:
        raise _refuse(reasons)
    return uploads


# --- storage ---------------------------------------------------------------------------------------

class LocalStorage:
    """Files in one local folder (a shared mount when several machines serve the help desk)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
        guard = self.root / ".htaccess"
        if not guard.exists():
            # if the folder ever ends up under a web root on shared hosting, Apache serves nothing
            guard.write_text("Require all denied\n<IfModule !mod_authz_core.c>\nDeny from all\n</IfModule>\n")

    def path(self, saved_name: str) -> Path:
        if not _SAVED_NAME.match(saved_name or ""):
            raise FileNotFoundError(saved_name)
        return self.root / saved_name

    def save(self, stream: IO[bytes]) -> str:
        self._ensure_root()
        for _ in range(5):
            saved_name = secrets.token_hex(24)
            target = self.root / saved_name
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as out:
                stream.seek(0)
                shutil.copyfileobj(stream, out, 1024 * 1024)
            return saved_name
        raise RuntimeError("could not pick an unused attachment name")

    def delete(self, saved_name: str) -> None:
        try:
            self.path(saved_name).unlink()
        except FileNotFoundError:
            pass


def storage() -> LocalStorage:
    return LocalStorage(current_app.config["HESK_ATTACHMENTS_DIR"])


def store(uploads: list[Upload]) -> list[dict[str, Any]]:
    """Write checked uploads to storage. Returns the rows for the ticket service (``attachments=``).

    When anything fails, the files written so far are removed again.
    """
    box = storage()
    saved: list[dict[str, Any]] = []
    try:
        for up in uploads:
            name = box.save(up.stream)
            saved.append({"saved_name": name, "real_name": up.real_name, "size": up.size,
                          "content_type": up.content_type})
    except Exception:
        discard(saved)
        raise
    return saved


def discard(saved: list[dict[str, Any]]) -> None:
    """Remove stored files whose database rows were never written (the ticket was not filed)."""
    box = storage()
    for row in saved:
        box.delete(row["saved_name"])


def download_type(content_type: str) -> str:
    """The Content-Type a download is sent with: known safe types as stored, anything else as bytes."""
    return content_type if content_type in set(CONTENT_TYPES.values()) else "application/octet-stream"
