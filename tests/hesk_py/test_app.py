"""The app factory, the install gate, error pages and /healthz."""
from pathlib import Path

from sqlalchemy import text

from hesk_py import create_app
from hesk_py.extensions import db


def _uninstalled_app(tmp_path):
    return create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path),
        "HESK_CONFIG_FILE": str(tmp_path / "config.ini"),
    })


def test_not_installed_redirects_everything_to_the_installer(tmp_path):
    client = _uninstalled_app(tmp_path).test_client()
    for path in ("/", "/admin/", "/admin/login", "/no-such-page"):
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].endswith("/install/"), path
    assert client.get("/install/").status_code == 200
    assert client.get("/static/css/hesk.css").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["database"] == "not configured"


def test_installed_app_hides_the_installer(client):
    assert client.get("/install/").status_code == 404
    assert client.get("/").status_code == 200


def test_config_file_is_layered_under_test_config(tmp_path):
    cfg = tmp_path / "config.ini"
    cfg.write_text("[database]\nurl = sqlite:///" + str(tmp_path / "x.db") + "\n[security]\nsecret_key = from-file\n"
                   "[server]\nport = 9999\n")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "HESK_CONFIG_FILE": str(cfg), "HESK_SERVER_PORT": 7777})
    assert app.config["HESK_INSTALLED"] is True
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["HESK_SERVER_PORT"] == 7777  # the test mapping wins over the file


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_and_pages_answer_503_when_the_database_is_unreachable(tmp_path):
    # a MySQL server that is not there: port 1 on loopback refuses at once
    app = create_app({
        "TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path),
        "HESK_CONFIG_FILE": str(tmp_path / "none.ini"),
        "SQLALCHEMY_DATABASE_URI": "mysql+pymysql://nobody:secretpw@127.0.0.1:1/nothing",
    })
    client = app.test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "error", "database": "unreachable"}
    page = client.get("/")
    assert page.status_code == 503
    body = page.get_data(as_text=True)
    assert "cannot reach its database" in body
    assert "secretpw" not in body and "Traceback" not in body


def test_error_pages_are_rendered_from_templates(client):
    resp = client.get("/definitely-not-here")
    assert resp.status_code == 404
    assert "Page not found" in resp.get_data(as_text=True)
    resp = client.post("/admin/login", data={"username": "x", "password": "y"})  # no CSRF token
    assert resp.status_code == 400
    assert "The form expired" in resp.get_data(as_text=True)
    resp = client.delete("/")
    assert resp.status_code == 405


def test_security_headers(client):
    resp = client.get("/")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_no_template_has_inline_scripts_or_styles():
    root = Path(__file__).resolve().parents[2] / "templates"
    for path in root.rglob("*.html"):
        html = path.read_text()
        assert "<style" not in html, path
        assert " style=" not in html, path
        for tag in html.split("<script")[1:]:
            assert "src=" in tag.split(">")[0], f"inline script in {path}"


def test_database_tables_use_utf8mb4_on_mysql(app_ctx):
    if db.engine.dialect.name != "mysql":
        return  # SQLite stores UTF-8 always; the Cyrillic round trip is tested in the service tests
    rows = db.session.execute(text(
        "SELECT table_name, table_collation FROM information_schema.tables WHERE table_schema = DATABASE()"
    )).all()
    assert rows
    for name, collation in rows:
        assert collation.startswith("utf8mb4"), name
