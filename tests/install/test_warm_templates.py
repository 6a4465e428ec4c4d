"""The installer's first page must not wait for Jinja to compile its templates: the WSGI app compiles them
before the first visitor arrives."""
from __future__ import annotations

import time

from hesk_py.wsgi import ReloadingApp
from tests.install.conftest import make_factory


def _compiled(flask_app) -> set[str]:
    return {key[1] for key in flask_app.jinja_env.cache.keys()}


def test_installer_templates_are_compiled_before_the_first_visit(instance):
    app = ReloadingApp(make_factory(instance))
    compiled = _compiled(app.flask_app)
    assert {"install/index.html", "install/base.html", "layout.html"} <= compiled

    client = app.flask_app.test_client()
    started = time.perf_counter()
    resp = client.get("/install/")
    first_visit = time.perf_counter() - started
    assert resp.status_code == 200
    assert first_visit < 0.3, f"the first visit of the installer took {first_visit * 1000:.0f} ms"
