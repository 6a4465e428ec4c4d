"""Finding every address a response sends the browser to: links, sources, form actions, data-*-url
attributes, CSS url(...), Location headers and cookie paths. Shared by the packaging tests."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

_URL_ATTRS = {"href", "src", "action", "formaction", "poster"}
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in _URL_ATTRS or (name.startswith("data-") and name.endswith("-url")):
                self.found.append((f"<{tag} {name}>", value))
            elif name == "srcset":
                for part in value.split(","):
                    if part.strip():
                        self.found.append((f"<{tag} srcset>", part.split()[0]))
            elif name == "style":
                self.found += [(f"<{tag} style>", u) for u in _CSS_URL.findall(value)]
            elif tag == "meta" and name == "content" and "url=" in value.lower():
                self.found.append(("<meta refresh>", value.split("=", 1)[1].strip()))


def addresses(body: str, content_type: str = "text/html") -> list[tuple[str, str]]:
    """(where, address) of every address in an HTML page or a stylesheet."""
    if content_type.startswith("text/css"):
        return [("css url()", u) for u in _CSS_URL.findall(body)]
    if not content_type.startswith("text/html"):
        return []
    collector = _Collector()
    collector.feed(body)
    return collector.found


def outside(address: str, prefix: str, host: str | None = None) -> bool:
    """Whether following ``address`` leaves the help desk mounted at ``prefix`` on this site. Other sites
    (a customer's link in a ticket) and same-page addresses (#top, ?page=2) are fine."""
    address = address.strip()
    if not address or address.startswith(("#", "?", "mailto:", "tel:", "data:")):
        return False
    parts = urlsplit(address)
    if parts.scheme in ("http", "https"):
        if host is None or parts.netloc != host:
            return False  # another site
        path = parts.path
    elif parts.scheme or address.startswith("//"):
        return True  # javascript:, protocol-relative: never ours
    else:
        path = parts.path
    if not path.startswith("/"):
        return True  # relative paths resolve against the page's folder: the help desk never writes them
    return not (path == prefix or path.startswith(prefix + "/"))


def cookie_paths(headers) -> list[tuple[str, str]]:
    """(cookie name, Path attribute) of every Set-Cookie header."""
    out = []
    for raw in headers.getlist("Set-Cookie"):
        name = raw.split("=", 1)[0]
        match = re.search(r";\s*Path=([^;]*)", raw, re.IGNORECASE)
        out.append((name, match.group(1) if match else ""))
    return out


def cookie_outside(path: str, prefix: str) -> bool:
    return not (path == prefix or path.startswith(prefix + "/"))
