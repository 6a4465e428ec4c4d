"""IMAP and POP3 fetching: import the emails waiting in a mailbox as tickets and replies (``hesk-py cron``,
jobs ``imap`` and ``pop3``).

Each message goes through ``inbound.import_message`` (the same checks as email piping; the ticket or reply and
its receipt row in one transaction). Only after that commit is the message flagged on the server: IMAP marks
it read ("Keep a copy") or deleted (expunged every few messages and at the end); POP3 deletes it (DELE,
applied by the server at QUIT) unless "Keep a copy" is on. A run that dies halfway leaves everything not yet
flagged in the mailbox: what it had imported is recognised by its Message-ID next time (the receipt log) and
only flagged, so nothing is imported twice and nothing is lost.

Two runs never fetch at once: the job holds a lease (hesk_py/services/jobs.py) for the "Task timeout"
setting, and a run stops looking at new messages shortly before its lease ends (``deadline``); the rest wait
for the next run. The database being down stops the run with the message still on the server.
"""
from __future__ import annotations

import hashlib
import poplib
import ssl
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import InboundMail
from hesk_py.models.types import utcnow
from hesk_py.services import inbound

IMAP_KEYS = ("imap_host_name", "imap_host_port", "imap_enc", "imap_noval_cert", "imap_user", "imap_password",
             "imap_mailbox", "imap_keep")
POP3_KEYS = ("pop3_host_name", "pop3_host_port", "pop3_tls", "pop3_user", "pop3_password", "pop3_keep")
# IMAP: messages fetched per round trip (at most this many bytes, unless one message alone is bigger)
BATCH_MESSAGES = 20
BATCH_BYTES = 8 * 1024 * 1024
EXPUNGE_EVERY = 20
POP3_MAX_LINE = 1024 * 1024  # poplib refuses lines over 2048 bytes; HTML mail from some programs has longer ones


@dataclass
class FetchResult:
    protocol: str
    found: int = 0  # messages waiting when the run started
    counts: Counter = field(default_factory=Counter)  # import_message's actions, and "skipped" (known)
    left: int = 0  # not looked at: the run reached its time limit

    def add(self, action: str) -> None:
        self.counts[action] += 1

    def line(self) -> str:
        """One line for ``hesk-py cron``: what was found and what became of it."""
        c = self.counts
        text = _("%(found)s emails: %(created)s new tickets, %(replied)s replies, %(ignored)s ignored, "
                 "%(quarantined)s quarantined, %(refused)s refused",
                 found=self.found, created=c["created"], replied=c["replied"],
                 ignored=c["ignored"] + c["skipped"], quarantined=c["quarantined"], refused=c["refused"])
        if self.left:
            text += "; " + _("%(n)s left for the next run (time limit)", n=self.left)
        return text


def _values(keys: tuple[str, ...], values: dict[str, Any] | None) -> dict[str, Any]:
    return dict(values) if values is not None else {k: settings.get(k) for k in keys}


def _tls_context(no_verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if no_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _timeout() -> int:
    return int(settings.get("smtp_timeout"))


def _past(deadline: datetime | None) -> bool:
    return deadline is not None and utcnow() >= deadline


# --- IMAP --------------------------------------------------------------------------------------------

def imap_connect(v: dict[str, Any]):
    """A logged-in IMAPClient for the settings ``v`` (SSL, STARTTLS or none)."""
    from imapclient import IMAPClient

    context = _tls_context(v["imap_noval_cert"])
    client = IMAPClient(v["imap_host_name"], port=int(v["imap_host_port"]), ssl=v["imap_enc"] == "ssl",
                        ssl_context=context, timeout=_timeout())
    try:
        if v["imap_enc"] == "tls":
            client.starttls(context)
        client.login(v["imap_user"], v["imap_password"])
    except BaseException:
        _imap_close(client)
        raise
    return client


def _imap_close(client) -> None:
    try:
        client.logout()
    except Exception:  # the connection is already gone: nothing more to say to the server
        try:
            client.shutdown()
        except Exception:
            pass


def _imap_expunge(client, uids: list[int]) -> None:
    # a plain EXPUNGE, not UID EXPUNGE of these: it also removes what a run that died before its expunge
    # had flagged (the mailbox is the help desk's; what is flagged deleted there is meant to go)
    if uids:
        client.expunge()


def _batches(sizes: dict[int, int], uids: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= BATCH_MESSAGES or total + size > BATCH_BYTES):
            out.append(batch)
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        out.append(batch)
    return out


def fetch_imap(*, deadline: datetime | None = None, values: dict[str, Any] | None = None) -> FetchResult:
    """Import the messages of the IMAP mailbox: with "Keep a copy" the unread ones (marked read after import),
    otherwise all that are not marked deleted (deleted after import)."""
    from imapclient import DELETED, SEEN

    v = _values(IMAP_KEYS, values)
    keep = bool(v["imap_keep"])
    result = FetchResult("imap")
    client = imap_connect(v)
    try:
        client.select_folder(v["imap_mailbox"])
        uids = sorted(client.search(["UNSEEN", "UNDELETED"] if keep else ["UNDELETED"]))
        result.found = len(uids)
        sizes: dict[int, int] = {}
        for i in range(0, len(uids), 1000):  # in slices: servers limit the length of a command line
            sizes.update({uid: int(d.get(b"RFC822.SIZE", 0))
                          for uid, d in client.fetch(uids[i:i + 1000], ["RFC822.SIZE"]).items()})
        done = 0
        to_expunge: list[int] = []
        try:
            for batch in _batches(sizes, uids):
                if _past(deadline):
                    break
                # BODY.PEEK: fetching does not mark the message read; only a committed import does
                data = client.fetch(batch, ["BODY.PEEK[]"])
                for uid in batch:
                    if _past(deadline):
                        break
                    done += 1
                    raw = (data.get(uid) or {}).get(b"BODY[]")
                    if raw is None:  # removed meanwhile by another mail program
                        continue
                    outcome = inbound.import_message(bytes(raw), channel="imap")
                    result.add(outcome.action)
                    if keep:
                        client.add_flags([uid], [SEEN], silent=True)
                    else:
                        client.add_flags([uid], [DELETED], silent=True)
                        to_expunge.append(uid)
                        if len(to_expunge) >= EXPUNGE_EVERY:
                            _imap_expunge(client, to_expunge)
                            to_expunge = []
        finally:
            result.left = len(uids) - done
            if to_expunge:
                try:
                    _imap_expunge(client, to_expunge)
                except Exception:  # flagged \Deleted already: the next run skips them and expunges later
                    pass
    finally:
        _imap_close(client)
    return result


# --- POP3 --------------------------------------------------------------------------------------------

def pop3_connect(v: dict[str, Any]) -> poplib.POP3:
    """A logged-in POP3 connection for the settings ``v`` (TLS from the start, or none)."""
    if poplib._MAXLINE < POP3_MAX_LINE:
        poplib._MAXLINE = POP3_MAX_LINE
    host, port = v["pop3_host_name"], int(v["pop3_host_port"])
    if v["pop3_tls"]:
        conn: poplib.POP3 = poplib.POP3_SSL(host, port, timeout=_timeout(), context=_tls_context(False))
    else:
        conn = poplib.POP3(host, port, timeout=_timeout())
    try:
        conn.user(v["pop3_user"])
        conn.pass_(v["pop3_password"])
    except BaseException:
        conn.close()
        raise
    return conn


def _imported_already(headers: bytes) -> bool:
    """Whether the message with these headers was imported before (by its Message-ID)."""
    msg = BytesHeaderParser(policy=policy.default).parsebytes(headers)
    try:
        ids = inbound._ids(str(msg.get("Message-ID") or ""))
    except Exception:  # a broken header: let the full import decide
        return False
    if not ids:
        return False
    key = hashlib.sha256(ids[0][:900].encode()).hexdigest()
    found = db.session.scalar(select(InboundMail.id).where(InboundMail.message_key == key)) is not None
    db.session.commit()
    return found


def fetch_pop3(*, deadline: datetime | None = None, values: dict[str, Any] | None = None) -> FetchResult:
    """Import the messages of the POP3 mailbox; delete each after its import unless "Keep a copy" is on
    (kept messages already imported are recognised from their headers and not downloaded again)."""
    v = _values(POP3_KEYS, values)
    keep = bool(v["pop3_keep"])
    result = FetchResult("pop3")
    conn = pop3_connect(v)
    try:
        count, _size = conn.stat()
        result.found = count
        done = 0
        for number in range(1, count + 1):
            if _past(deadline):
                break
            done += 1
            if keep:
                try:
                    headers = b"\r\n".join(conn.top(number, 0)[1])
                except poplib.error_proto:  # TOP is optional in POP3: download the message instead
                    headers = b""
                if headers and _imported_already(headers):
                    result.add("skipped")
                    continue
            raw = b"\r\n".join(conn.retr(number)[1]) + b"\r\n"
            outcome = inbound.import_message(raw, channel="pop3")
            result.add(outcome.action)
            if not keep:
                conn.dele(number)
        result.left = count - done
        conn.quit()  # the server deletes the DELE'd messages now, and only now
        conn = None
    finally:
        if conn is not None:  # no QUIT: the server deletes nothing, the next run finds them all again
            conn.close()
    return result
