"""Inbound mail: turn one raw RFC 5322 message into a new ticket or a reply (email piping; IMAP and POP3
fetching call ``import_message`` too).

The order of the checks follows HESK's ``hesk_email2ticket()``: parse (any charset, encoded headers,
HTML-only mail made into text) -> sender (banned -> refused) -> junk and loops (our own mail, no-reply
senders, bounces and auto-replies, an already imported Message-ID, identical mail, too many messages from
one sender) -> followers from the To/Cc headers (``email_include_to``/``email_include_cc``, with ``multi_eml``;
never our own addresses, the sender or banned ones) -> reply detection (``[#XXX-XXX-XXXX]`` in the subject,
or In-Reply-To/References naming a Message-ID we sent or received; the sender must be the ticket's requester
or one of its followers, otherwise a new ticket is opened) -> attachments under the web form's rules -> the
ticket service, in one transaction with the receipt row. A message that cannot be imported is kept raw in the
quarantine, never dropped.
"""
from __future__ import annotations

import hashlib
import io
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html import unescape
from html.parser import HTMLParser
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Category, InboundMail, OutboxMessage, QuarantinedMail, Ticket
from hesk_py.models.types import utcnow
from hesk_py.services import attachments as attachment_rules
from hesk_py.services import bans, customer_accounts, followers, tickets
from hesk_py.services.errors import AttachmentRefused, InvalidTicketData, TicketNotFound

log = logging.getLogger(__name__)

ACTIONS = ("created", "replied", "ignored", "quarantined", "refused")
CHANNELS = ("pipe", "imap", "pop3")
MAX_RAW = 50 * 1024 * 1024  # bigger than any mail server passes on; kept whole in the quarantine anyway

_SUBJECT_TRACKID = re.compile(r"\[#\s*([A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4})\s*\]", re.IGNORECASE)
_MSGID = re.compile(r"<([^<>\s]+)>")
_NOREPLY = re.compile(r"(no|donot|dont)reply", re.IGNORECASE)
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)$", re.IGNORECASE)
# Subjects of automatic mail (bounces, delivery reports, out-of-office replies) in common mail systems.
_AUTO_SUBJECTS = re.compile(
    r"^\s*(auto:|automatic reply|auto[- ]?reply|autoresponse|auto[- ]?response|out of (the )?office|"
    r"undeliverable|undelivered mail|delivery status notification|delivery failure|delivery has failed|"
    r"mail delivery failed|mail delivery failure|mail delivery system|returned mail|failure notice|"
    r"message not delivered|non[- ]?delivery|abwesenheitsnotiz|r[ée]ponse automatique|"
    r"automatische antwort)",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^(On|Am|Le|El|Il|Op|W dniu|В)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"(wrote|schrieb|a écrit|escribió|написал[а]?)\s*:\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ImportResult:
    action: str  # one of ACTIONS
    trackid: str | None
    reason: str


@dataclass
class ParsedMail:
    sender: str
    name: str
    subject: str
    text: str
    message_id: str | None
    references: list[str]
    files: list[dict[str, Any]]  # {"name", "data", "embedded"}
    auto_reason: str  # why it looks automatic (bounce, auto-reply), or ""
    to: list[tuple[str, str]] = field(default_factory=list)  # (name, address lower-cased) of To:
    cc: list[tuple[str, str]] = field(default_factory=list)  # and of Cc:


class Unparseable(Exception):
    """The message cannot be imported as it is: kept in the quarantine."""


# --- the entry point -------------------------------------------------------------------------------

def import_message(raw: bytes, *, channel: str) -> ImportResult:
    """Import one message. Database errors (the server is down) propagate, so the caller can retry;
    everything else ends in one of ``ACTIONS``."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel}")
    try:
        mail = parse(raw)
    except Unparseable as exc:
        return _quarantine(raw, channel, str(exc))
    except Exception as exc:  # a parser bug or a message no parser copes with: keep it, never drop it
        log.exception("an email could not be parsed")
        return _quarantine(raw, channel, str(_l("The email could not be read (%(error)s).",
                                                error=type(exc).__name__)))
    try:
        return _import(mail, raw, channel)
    except (InvalidTicketData, Unparseable) as exc:
        db.session.rollback()
        reason = "; ".join(exc.errors.values()) if isinstance(exc, InvalidTicketData) else str(exc)
        return _quarantine(raw, channel, reason, mail=mail)


def _import(mail: ParsedMail, raw: bytes, channel: str) -> ImportResult:
    body_hash = hashlib.sha256(f"{mail.sender}\n{mail.subject}\n{mail.text}".encode()).hexdigest()
    message_key = hashlib.sha256(mail.message_id.encode()).hexdigest() if mail.message_id else None

    def receipt(action: str, reason: str, ticket: Ticket | None = None) -> InboundMail:
        row = InboundMail(received_at=utcnow(), channel=channel, message_key=message_key,
                          message_id=(mail.message_id or "")[:255] or None, sender=mail.sender[:255],
                          body_hash=body_hash, action=action, reason=reason[:255],
                          ticket_id=ticket.id if ticket is not None else None)
        db.session.add(row)
        return row

    def finish(action: str, reason: str) -> ImportResult:
        # an ignored or refused message is still counted: a loop is many messages, answered or not
        try:
            receipt(action, reason)
            db.session.commit()
        except IntegrityError:  # the same Message-ID was recorded meanwhile (two fetches at once)
            db.session.rollback()
            return ImportResult("ignored", None, str(_l("This email was imported already.")))
        return ImportResult(action, None, reason)

    if message_key and db.session.scalar(select(InboundMail.id).where(InboundMail.message_key == message_key)):
        return ImportResult("ignored", None, str(_l("This email was imported already.")))
    if bans.is_email_banned(mail.sender):
        return finish("refused", str(_l("The sender %(email)s is banned.", email=mail.sender)))
    own = {str(settings.get("noreply_mail")).lower(), str(settings.get("smtp_user")).lower()} - {""}
    if mail.sender in own or _sent_by_us(mail.message_id):
        return finish("ignored", str(_l("This is an email the help desk sent itself.")))
    if settings.get("pipe_block_noreply") and _NOREPLY.search(re.sub(r"[-_.]", "", mail.sender.split("@")[0])):
        return finish("ignored", str(_l("The sender %(email)s does not accept replies.", email=mail.sender)))
    if settings.get("pipe_block_returned") and mail.auto_reason:
        return finish("ignored", mail.auto_reason)
    loop_time = int(settings.get("loop_time"))
    since = utcnow() - timedelta(seconds=loop_time)
    if settings.get("pipe_block_duplicate") and db.session.scalar(
            select(InboundMail.id).where(InboundMail.sender == mail.sender[:255], InboundMail.body_hash == body_hash,
                                         InboundMail.received_at >= since).limit(1)):
        return finish("ignored", str(_l("An identical email from %(email)s arrived less than %(n)s seconds ago.",
                                        email=mail.sender, n=loop_time)))
    loop_hits = int(settings.get("loop_hits"))
    if loop_hits:
        recent = db.session.scalar(select(func.count(InboundMail.id)).where(
            InboundMail.sender == mail.sender[:255], InboundMail.received_at >= since)) or 0
        if recent >= loop_hits:
            return finish("ignored", str(_l("Mail loop: more than %(hits)s emails from %(email)s within %(n)s "
                                            "seconds.", hits=loop_hits, email=mail.sender, n=loop_time)))
    if settings.get("eml_req_msg") and not mail.text.strip():
        return finish("ignored", str(_l("The email has no message.")))
    if not customer_accounts.may_email_tickets(mail.sender):
        # customer accounts are required: the sender is told why (at most once per cooldown), no ticket
        customer_accounts.tell_rejected_sender(mail.sender, name=mail.name, subject=mail.subject)
        return finish("refused", str(_l("The sender %(email)s has no customer account, and an account is "
                                        "required to submit tickets.", email=mail.sender)))

    ticket = _ticket_replied_to(mail)
    people = _followers_from_headers(mail)
    saved, notes = _store_attachments(mail.files)
    message = mail.text.strip("\n")
    if notes:
        message = (message + "\n\n" if message else "") + "\n".join(notes)
    actor = tickets.Actor("email", None, mail.name)
    try:
        with tickets.one_transaction():
            if ticket is not None:
                if not message.strip() and not saved:
                    raise _Ignored(str(_l("The reply has no message.")))
                # the requester's reply, or a follower's (then it is theirs)
                author = followers.follower_by_email(ticket, mail.sender)
                tickets.add_reply(ticket, message=message, attachments=saved,
                                  actor=tickets.Actor("email", author.id if author else None, mail.name))
                if people:
                    tickets.add_followers(ticket, people, actor=actor, strict=False)
                action, reason = "replied", str(_l("reply added to ticket %(trackid)s", trackid=ticket.trackid))
            else:
                subject = mail.subject or str(_l("[Piped email]"))
                ticket = tickets.create_ticket(
                    name=mail.name, email=mail.sender, subject=subject, message=message,
                    category_id=_default_category(), actor=actor, attachments=saved, opened_by=channel,
                    require_email=True, notify_customer=not _spam_tagged(subject), followers=people)
                action, reason = "created", str(_l("new ticket %(trackid)s", trackid=ticket.trackid))
            receipt(action, reason, ticket)
    except _Ignored as exc:
        attachment_rules.discard(saved)
        return finish("ignored", str(exc))
    except IntegrityError:
        attachment_rules.discard(saved)
        return ImportResult("ignored", None, str(_l("This email was imported already.")))
    except Exception:
        attachment_rules.discard(saved)
        raise
    return ImportResult(action, ticket.trackid, reason)


class _Ignored(Exception):
    pass


def _quarantine(raw: bytes, channel: str, reason: str, *, mail: ParsedMail | None = None) -> ImportResult:
    row = QuarantinedMail(received_at=utcnow(), channel=channel, reason=reason or "?", raw=raw,
                          sender=(mail.sender if mail else "")[:255], subject=(mail.subject if mail else "")[:255])
    db.session.add(row)
    db.session.commit()
    log.warning("email quarantined as #%s: %s", row.id, reason)
    return ImportResult("quarantined", None, str(_l("kept in the quarantine as #%(id)s: %(reason)s",
                                                    id=row.id, reason=reason)))


def _sent_by_us(message_id: str | None) -> bool:
    if not message_id:
        return False
    return db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.message_id.in_([f"<{message_id}>", message_id])).limit(1)) is not None


def _ticket_replied_to(mail: ParsedMail) -> Ticket | None:
    """The ticket this message answers, when its sender is that ticket's customer and it is not locked."""
    ticket = None
    match = _SUBJECT_TRACKID.search(mail.subject)
    if match:
        try:
            ticket = tickets.get_ticket(match.group(1))
        except TicketNotFound:
            ticket = None
    if ticket is None and mail.references:
        ids = mail.references[-50:]
        wrapped = [f"<{i}>" for i in ids]
        ticket_id = db.session.scalar(select(OutboxMessage.ticket_id).where(
            OutboxMessage.message_id.in_(wrapped), OutboxMessage.ticket_id.is_not(None)).limit(1))
        if ticket_id is None:
            keys = [hashlib.sha256(i.encode()).hexdigest() for i in ids]
            ticket_id = db.session.scalar(select(InboundMail.ticket_id).where(
                InboundMail.message_key.in_(keys), InboundMail.ticket_id.is_not(None)).limit(1))
        if ticket_id is not None:
            ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.locked or not followers.is_customer_of(ticket, mail.sender):
        return None  # a stranger never writes into someone else's ticket: a new ticket is opened instead
    return ticket


def _followers_from_headers(mail: ParsedMail) -> list[tuple[str, str]]:
    """The other people the email was written to, as followers (HESK's ``email_include_to`` and
    ``email_include_cc``, with "Ticket followers" on): never the help desk's own addresses, the sender
    or a banned address (ban the help desk's inbound address, as HESK advises, when it is not one of
    those), with customer accounts on only addresses of verified accounts, at most ``followers.MAX_PER_TICKET``."""
    if not followers.enabled():
        return []
    found = ((mail.to if settings.get("email_include_to") else [])
             + (mail.cc if settings.get("email_include_cc") else []))
    skip = followers.own_addresses() | {mail.sender}
    people: list[tuple[str, str]] = []
    for name, address in found:
        if address in skip or bans.is_email_banned(address):
            continue
        skip.add(address)
        people.append((name, address))
    return followers.with_verified_accounts(people)[:followers.MAX_PER_TICKET]


def _default_category() -> int:
    # HESK's pipe script files into category 1 ($set_category); the first category when 1 is gone
    if db.session.get(Category, 1) is not None:
        return 1
    return db.session.scalar(select(func.min(Category.id))) or 0


def _spam_tagged(subject: str) -> bool:
    if not settings.get("notify_skip_spam"):
        return False
    return any(tag and tag in subject for tag in settings.get("notify_spam_tags") or ())


# --- attachments -----------------------------------------------------------------------------------

class _File:
    def __init__(self, name: str, data: bytes):
        self.filename = name
        self.stream = io.BytesIO(data)


def _store_attachments(files: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The web form's rules, per file: what passes is stored, what does not is named in a note added to the
    message (the rest of the email is still imported). Real attachments come before embedded images."""
    if not files:
        return [], []
    if not settings.get("save_embedded"):
        files = [f for f in files if not f["embedded"]]
    files = sorted(files, key=lambda f: f["embedded"])
    if not files:
        return [], []
    lim = attachment_rules.limits()
    notes: list[str] = []
    if not lim.enabled:
        return [], [str(_l("(Attachments are not accepted: %(names)s not saved.)",
                           names=", ".join(f'"{f["name"]}"' for f in files)))]
    uploads = []
    for f in files:
        if len(uploads) >= lim.max_number:
            notes.append(str(_l("(\"%(name)s\" was not saved: at most %(n)s files are kept.)",
                                name=f["name"], n=lim.max_number)))
            continue
        try:
            uploads.append(attachment_rules.check_upload(_File(f["name"], f["data"]), lim))
        except AttachmentRefused as exc:
            notes.append(str(_l("(Attachment not saved: %(reason)s)", reason=" ".join(exc.reasons))))
    return (attachment_rules.store(uploads) if uploads else []), notes


# --- parsing ---------------------------------------------------------------------------------------

def parse(raw: bytes) -> ParsedMail:
    """Read a raw message. Raises Unparseable when it has no usable sender (nothing to file it under)."""
    if not raw or not raw.strip():
        raise Unparseable(str(_l("The email is empty.")))
    if len(raw) > MAX_RAW:
        raise Unparseable(str(_l("The email is too large.")))
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    if not msg.keys():
        raise Unparseable(str(_l("The email has no headers.")))
    name, sender = _sender(msg)
    if not sender:
        raise Unparseable(str(_l("The email has no valid sender address.")))
    subject = _one_line(_header(msg, "Subject"))[:tickets.MAX_SUBJECT]
    text, files = _body(msg)
    if settings.get("strip_quoted"):
        text = strip_quoted(text)
    message_id = _ids(_header(msg, "Message-ID"))
    references = _ids(_header(msg, "References")) + _ids(_header(msg, "In-Reply-To"))
    return ParsedMail(sender=sender, name=name or sender.split("@")[0], subject=subject, text=text.strip(),
                      message_id=message_id[0][:900] if message_id else None, references=references,
                      files=files, auto_reason=_auto_reason(msg, sender, subject),
                      to=_addresses(msg, "To"), cc=_addresses(msg, "Cc"))


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header so broken that even the lenient parser gives up: read it as raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    return str(value or "")


def _one_line(value: str) -> str:
    return re.sub(r"\s+", " ", value.replace("\x00", "")).strip()


def _ids(value: str) -> list[str]:
    return [m for m in _MSGID.findall(value or "")]


def _sender(msg: EmailMessage) -> tuple[str, str]:
    for header in ("From", "Reply-To", "Sender"):
        raw = _header(msg, header)
        if not raw:
            continue
        for name, address in getaddresses([raw]) or [parseaddr(raw)]:
            address = (address or "").strip().lower()
            if tickets._EMAIL_RE.match(address) and len(address) <= 255:
                return _one_line(name)[:tickets.MAX_NAME], address
    return "", ""


def _addresses(msg: EmailMessage, header: str) -> list[tuple[str, str]]:
    """(name, address lower-cased) of each valid address in a header (To:, Cc:), in order."""
    raw = _header(msg, header)
    if not raw:
        return []
    found = []
    for name, address in getaddresses([raw]):
        address = (address or "").strip().lower()
        if followers.valid_email(address) and not tickets._HEADER_BREAKERS.search(address):
            found.append((_one_line(name)[:tickets.MAX_NAME], address))
    return found[:500]


def _auto_reason(msg: EmailMessage, sender: str, subject: str) -> str:
    auto = _header(msg, "Auto-Submitted").strip().lower()
    precedence = _header(msg, "Precedence").strip().lower()
    if msg.get_content_type() == "multipart/report" or _BOUNCE_SENDERS.match(sender.split("@")[0]) \
            or _header(msg, "Return-Path").strip() == "<>":
        return str(_l("This is a bounce (a delivery report)."))
    if (auto and auto != "no") or precedence in ("bulk", "junk", "auto_reply") \
            or any(_header(msg, h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")) \
            or _AUTO_SUBJECTS.match(subject):
        return str(_l("This is an automatic reply (out of office, auto-responder)."))
    return ""


def _decode(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "windows-1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _filename(part: EmailMessage, counter: list[int]) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    name = _one_line(str(name or ""))
    if not name:
        counter[0] += 1
        ext = mimetypes.guess_extension(part.get_content_type()) or ".bin"
        name = f"attachment{counter[0]}{'.jpg' if ext == '.jpe' else ext}"
    return name


def _body(msg: EmailMessage) -> tuple[str, list[dict[str, Any]]]:
    """The message text (plain text preferred, else HTML made into text) and the attached files."""
    plain: list[str] = []
    html: list[str] = []
    files: list[dict[str, Any]] = []
    counter = [0]
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        has_name = bool(part.get_param("name") or part.get_param("filename", header="content-disposition"))
        if disposition == "attachment" or (has_name and ctype not in ("text/plain", "text/html")) \
                or (ctype.split("/")[0] not in ("text", "message") and ctype != "multipart/alternative"):
            if ctype == "message/delivery-status":
                continue
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                embedded = disposition != "attachment" and bool(part.get("Content-ID") or disposition == "inline")
                files.append({"name": _filename(part, counter), "data": data, "embedded": embedded})
            continue
        if ctype == "text/plain":
            plain.append(_decode(part))
        elif ctype == "text/html":
            html.append(_decode(part))
    if plain:
        text = "\n\n".join(p.strip("\n") for p in plain)
    elif html:
        text = "\n\n".join(html_to_text(h) for h in html)
    else:
        text = ""
    return _clean_text(text), files


def _clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class _HtmlText(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
              "blockquote", "pre", "hr", "section", "article", "header", "footer"}
    _SKIP = {"script", "style", "head", "title", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in self._BLOCK:
            self.out.append("\n\n" if tag in ("p", "h1", "h2", "h3", "blockquote", "table") else "\n")
            if tag == "pre":
                self.pre += 1
        elif tag == "img" and not self.skip:
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in self._SKIP:
            self.skip -= 1

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK and tag != "li":
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text from an HTML mail: no tags, scripts or styles; paragraphs and line breaks kept."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # malformed beyond repair: drop tags the crude way
        return unescape(re.sub(r"<[^>]*>", " ", html))
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _markers() -> list[str]:
    """The "reply above this line" marker in every language the help desk speaks."""
    found = {str(_marker_text())}
    try:
        babel = current_app.extensions["babel"]
        for locale in babel.instance.list_translations():
            with force_locale(str(locale)):
                found.add(str(_marker_text()))
    except Exception:  # no translations compiled: English only
        pass
    return [m.strip("- ").strip().lower() for m in found if m.strip("- ").strip()]


def _marker_text():
    from hesk_py.services.mailer import REPLY_MARKER

    return REPLY_MARKER


def strip_quoted(text: str) -> str:
    """What the customer wrote above the "reply above this line" marker of our email, without the
    "On ..., X wrote:" line their mail program put before the quote."""
    markers = _markers()
    lines = text.split("\n")
    for i, line in enumerate(lines):
        bare = line.lstrip("> \t").lower()
        if any(m in bare for m in markers):
            kept = lines[:i]
            while kept and not kept[-1].strip(" >"):
                kept.pop()
            # the attribution line, sometimes wrapped onto two lines by the mail program
            if kept and _ATTRIBUTION.search(kept[-1]):
                last = kept.pop()
                if not _ATTRIBUTION_START.match(last) and kept and _ATTRIBUTION_START.match(kept[-1]):
                    kept.pop()  # "On <date>, <name> <" wrapped before "address> wrote:"
            while kept and not kept[-1].strip(" >"):
                kept.pop()
            return "\n".join(kept)
    return text
