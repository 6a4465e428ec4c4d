"""A real Dovecot (Debian's dovecot-imapd and dovecot-pop3d; scripts/test.sh installs them) on loopback for the
IMAP and POP3 fetching tests.

``dovecot`` (session): one server with its own dovecot.conf in a temporary folder: users in a passwd-file,
maildirs beside it, IMAP and POP3 on free ports without encryption (STARTTLS offered) and with SSL, a
self-signed certificate for 127.0.0.1 (``dovecot.cert``). ``mailbox`` (per test): a new user with an empty
INBOX, so tests never see each other's mail; ``mailbox.deliver(raw, ...)`` puts messages in it over IMAP
APPEND, ``mailbox.imap_settings()`` / ``pop3_settings()`` are the help desk settings that fetch from it.
Runs as root (CI) or as a normal user.
"""
from __future__ import annotations

import datetime
import grp
import ipaddress
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = 300  # mailboxes per test session (one per test)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)


class Dovecot:
    def __init__(self, root: Path):
        self.root = root
        self.cert = root / "cert.pem"
        self.passwd = root / "passwd"
        self.mail = root / "mail"
        self.ports = {name: _free_port() for name in ("imap", "imaps", "pop3", "pop3s")}
        self.process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            # Dovecot never delivers mail as root: the mail user is nobody, its login processes dovenull
            mail_user = pwd.getpwnam("nobody")
            self.login_user, self.internal_user = "dovenull", "dovecot"
        else:
            mail_user = pwd.getpwuid(os.getuid())
            self.login_user = self.internal_user = mail_user.pw_name
        self.internal_group = grp.getgrgid(mail_user.pw_gid).gr_name if os.geteuid() else "dovecot"
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid

    def write_config(self) -> Path:
        root = self.root
        _self_signed(self.cert, root / "key.pem")
        (root / "run").mkdir()
        self.mail.mkdir()
        if os.geteuid() == 0:
            os.chown(self.mail, self.uid, self.gid)
        # every user the session may need, written before Dovecot starts (it rereads a changed passwd-file only
        # after a failed login, which costs seconds)
        self.users = []
        lines = []
        for _n in range(USERS):
            user = f"desk{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(12)
            home = self.mail / user.split("@")[0]
            lines.append(f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}::\n")
            self.users.append((user, password))
        self.passwd.write_text("".join(lines))
        conf = root / "dovecot.conf"
        conf.write_text(f"""
base_dir = {root}/run
state_dir = {root}/run/state
instance_name = hesk-test-{root.name}
protocols = imap pop3
listen = 127.0.0.1
log_path = {root}/dovecot.log
default_login_user = {self.login_user}
default_internal_user = {self.internal_user}
default_internal_group = {self.internal_group}
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{root}/key.pem
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 0
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = {self.passwd}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.ports["imap"]}
  }}
  inet_listener imaps {{
    port = {self.ports["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {self.ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = {self.ports["pop3s"]}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # no growing login delay for an address after a failed login (the tests try wrong passwords on purpose)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap {{
  process_limit = 50
}}
service pop3 {{
  process_limit = 50
}}
""")
        return conf

    def start(self) -> None:
        conf = self.write_config()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                for name in ("imap", "pop3"):
                    socket.create_connection(("127.0.0.1", self.ports[name]), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        output = self.process.stdout.read().decode(errors="replace") if self.process.poll() is not None else ""
        self.stop()
        log = (self.root / "dovecot.log").read_text(errors="replace") if (self.root / "dovecot.log").exists() else ""
        raise RuntimeError(f"Dovecot did not start:\n{output}\n{log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def add_user(self) -> tuple[str, str]:
        """An account no test has used yet."""
        return self.users.pop()


class Mailbox:
    def __init__(self, server: Dovecot, user: str, password: str):
        self.server, self.user, self.password = server, user, password

    def imap(self):
        """A logged-in IMAPClient on the plain port, INBOX selected."""
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.server.ports["imap"], ssl=False, timeout=10)
        client.login(self.user, self.password)
        client.select_folder("INBOX")
        return client

    def deliver(self, *raws: bytes, flags: tuple = ()) -> None:
        client = self.imap()
        try:
            for raw in raws:
                client.append("INBOX", raw, flags=flags)
        finally:
            client.logout()

    def messages(self) -> dict[int, tuple[bytes, tuple]]:
        """{uid: (Message-ID header line, flags)} of the INBOX as the server has it now."""
        client = self.imap()
        try:
            uids = client.search(["ALL"])
            data = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
            return {uid: (d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip(), d[b"FLAGS"]) for uid, d in data.items()}
        finally:
            client.logout()

    def imap_settings(self, *, enc: str = "", keep: bool = False, noval_cert: bool = False) -> dict:
        port = self.server.ports["imaps" if enc == "ssl" else "imap"]
        return {"imap": True, "imap_host_name": "127.0.0.1", "imap_host_port": port, "imap_enc": enc,
                "imap_noval_cert": noval_cert, "imap_user": self.user, "imap_password": self.password,
                "imap_mailbox": "INBOX", "imap_keep": keep}

    def pop3_settings(self, *, tls: bool = False, keep: bool = False) -> dict:
        port = self.server.ports["pop3s" if tls else "pop3"]
        return {"pop3": True, "pop3_host_name": "127.0.0.1", "pop3_host_port": port, "pop3_tls": tls,
                "pop3_user": self.user, "pop3_password": self.password, "pop3_keep": keep}


@pytest.fixture(scope="session")
def dovecot():
    if not os.path.exists(DOVECOT):
        raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d "
                           "(scripts/test.sh does it)")
    # not pytest's tmp_path: that is private to this user (0700), and Dovecot's own users must reach it
    root = Path(tempfile.mkdtemp(prefix="hesk-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot):
    """A fresh user with an empty INBOX on the test Dovecot."""
    user, password = dovecot.add_user()
    return Mailbox(dovecot, user, password)
