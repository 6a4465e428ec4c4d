"""Fixtures for the install package's tests (issue 11).

* ``package_zip``: ``hesk-py package`` run on a copy of this source tree (the SQLite and MariaDB passes run
  side by side; setup.py sdist works in the folder it runs in), once per run.
* ``venv``: a fresh virtualenv with the zip's requirements.txt installed by pip, as the hosting control
  panel's "Run pip install" does (from the local package index and cache this machine's pip uses), once per run.
* ``unpack(name)``: the zip extracted into an empty folder; returns the application folder.
* ``Browser``: an HTTP client with a cookie jar that checks every answer for addresses and cookies outside
  the prefix (tests/packaging/links.py).
* ``DB_KIND``: SQLite, or MariaDB when HESK_TEST_DATABASE_URL is set; ``make_database`` (tests/install).
"""
from __future__ import annotations

import http.cookiejar
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

from hesk_py import __version__
from tests.browser.conftest import browser_type_launch_args, screenshot  # noqa: F401  (fixtures)
from tests.install.conftest import SERVER_URL, make_database  # noqa: F401  (a fixture)
from tests.packaging.links import addresses, cookie_outside, cookie_paths, outside

ROOT = Path(__file__).resolve().parents[2]
DB_KIND = "mariadb" if SERVER_URL else "sqlite"
PREFIX = "/helpdesk"
# what a copy of the source tree leaves out: the build only reads what MANIFEST.in names anyway
_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "venv", "test-results", "dist", "build", "*.egg-info",
                                     "__pycache__", ".pytest_cache", "instance", "tmp", "*.mo")


@pytest.fixture(scope="session")
def package_zip(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_COPIED)
    done = subprocess.run([sys.executable, "-m", "hesk_py", "package", "--dist-dir", str(work / "dist")],
                          cwd=source, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    target = work / "dist" / f"hesk_py-{__version__}.zip"
    assert f"Built {target}" in done.stdout and " KB, " in done.stdout, done.stdout
    return target


@pytest.fixture(scope="session")
def venv(package_zip, tmp_path_factory) -> Path:
    """A virtualenv with the package's requirements, made like the hosting panel makes it: ``python -m
    venv``, then ``pip install -r requirements.txt`` in the application folder (``-e .`` installs hesk_py
    itself and the ``hesk-py`` command). Returns the virtualenv's folder; the application folder it was
    installed from is ``<venv>/../app``."""
    site = tmp_path_factory.mktemp("venv-site")
    app = extract(package_zip, site / "app")
    env_dir = site / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    done = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                           "-r", "requirements.txt"], cwd=app, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env_dir


def extract(zip_path: Path, folder: Path) -> Path:
    """Unzip into ``folder`` (the zip's top folder hesk_py-<version>/ becomes ``folder`` itself, as the
    INSTALL guide says: extract, then rename). Files already there are overwritten, others kept."""
    folder.mkdir(parents=True, exist_ok=True)
    top = f"hesk_py-{__version__}/"
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            assert info.filename.startswith(top), info.filename
            rel = info.filename[len(top):]
            if not rel:
                continue
            target = folder / rel
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
    return folder


@pytest.fixture
def unpack(package_zip, tmp_path):
    def do(name: str = "helpdesk") -> Path:
        folder = tmp_path / name
        assert not folder.exists()
        return extract(package_zip, folder)

    return do


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server stopped: {proc.args} ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


@pytest.fixture
def processes():
    """``processes.start(args, port=..., **popen)`` starts a server and waits for its port; all are
    stopped after the test (by their own pid)."""

    class Processes:
        def __init__(self):
            self.running: list[subprocess.Popen] = []

        def start(self, args, *, port: int, log: Path, **kw) -> subprocess.Popen:
            fh = open(log, "wb")
            proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, **kw)
            fh.close()
            self.running.append(proc)
            try:
                wait_for_port(port, proc)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
            return proc

    procs = Processes()
    yield procs
    for proc in reversed(procs.running):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def deployed_env(**extra) -> dict:
    """The environment of a process of the deployed help desk: nothing of this test run's own config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HESK_", "FLASK_", "PYTHON"))}
    env.update(extra)
    return env


# --- a browser without a browser -------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status: int, headers, body: bytes, url: str):
        self.status, self.headers, self.body, self.url = status, headers, body, url

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


class _Headers:
    """Enough of werkzeug's Headers for links.cookie_paths."""

    def __init__(self, msg):
        self._msg = msg

    def getlist(self, name):
        return self._msg.get_all(name) or []


class Browser:
    """urllib with a cookie jar (it sends a cookie only where its Path allows, as browsers do). Every
    answer is checked: the Location header, Set-Cookie paths, and the addresses in HTML and CSS must stay
    under ``prefix``; what does not is collected in ``outside``."""

    def __init__(self, origin: str, prefix: str = PREFIX, *, website: str | None = None):
        self.origin, self.prefix = origin.rstrip("/"), prefix
        self.host = urllib.parse.urlsplit(self.origin).netloc
        # the business's own website (the site_url setting: the installer makes it the help desk's origin),
        # which the customer pages link to on purpose
        self.website = {website, website + "/"} if website else set()
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.outside: list[tuple[str, str, str]] = []
        self.requests = 0

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.origin + path

    def open(self, path: str, data: dict | None = None, *, timeout: float = 60) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.url(path), data=body, method="POST" if data is not None else "GET")
        try:
            with self.opener.open(req, timeout=timeout) as r:
                resp = Response(r.status, r.headers, r.read(), req.full_url)
        except urllib.error.HTTPError as err:  # 3xx (not followed), 4xx, 5xx
            resp = Response(err.code, err.headers, err.read(), req.full_url)
        self.requests += 1
        self._check(path, resp)
        return resp

    def get(self, path: str, **kw) -> Response:
        return self.open(path, **kw)

    def post(self, path: str, data: dict, **kw) -> Response:
        return self.open(path, data, **kw)

    def follow(self, resp: Response, limit: int = 5) -> Response:
        while resp.status in (301, 302, 303) and limit:
            resp = self.get(urllib.parse.urljoin(resp.url, resp.location))
            limit -= 1
        return resp

    def _check(self, path: str, resp: Response) -> None:
        if resp.location and outside(resp.location, self.prefix, self.host):
            self.outside.append((path, "Location", resp.location))
        for name, cookie_path in cookie_paths(_Headers(resp.headers)):
            if cookie_outside(cookie_path, self.prefix):
                self.outside.append((path, f"cookie {name} Path", cookie_path))
        ctype = resp.headers.get("Content-Type", "")
        for where, address in addresses(resp.text, ctype) if ctype.startswith(("text/html", "text/css")) else ():
            if outside(address, self.prefix, self.host) and address not in self.website:
                self.outside.append((path, where, address))

    def links(self, resp: Response) -> list[str]:
        """The href and src addresses of a page that are ours (under the prefix)."""
        out = []
        for where, address in addresses(resp.text):
            parts = urllib.parse.urlsplit(address)
            if where.endswith((" href>", " src>")) and not parts.scheme and parts.path.startswith(self.prefix + "/"):
                out.append(address)
        return out
