"""The installer's plain functions (install/installer.py, install/state.py, services/first_login.py) on real
folders and real databases: SQLite always, MariaDB when HESK_TEST_DATABASE_URL is set."""
from __future__ import annotations

import configparser
import importlib.metadata as metadata
import json
import os
import random
import re
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from hesk_py import config as bootstrap
from hesk_py import create_app
from hesk_py.services import first_login
from install import installer, state
from install.installer import DatabaseProblem, DatabaseSettings, InstallPlan, Installation
from tests.install.conftest import (ADMIN_PASSWORD, DB_KINDS, SERVER_URL, build_first_revision,
                                    first_revision_data_intact, table_names, uninstalled_config)


@pytest.fixture
def ctx(instance):
    """An uninstalled app's request context: messages are translated, as in the wizard."""
    app = create_app(uninstalled_config(instance))
    with app.test_request_context("/install/"):
        yield app


def _lines(instance, **kw):
    paths = {"instance_path": instance, "attachments_dir": instance / "attachments",
             "config_file": instance / "config.ini"}
    paths.update(kw)
    return {line.key: line for line in installer.server_check(**paths)}


# --- the server check ----------------------------------------------------------------------------------

def test_server_check_passes_on_this_server_and_creates_the_folders(ctx, instance):
    lines = _lines(instance)
    for key in ("python", "instance", "attachments", "config", "scrypt", "sqlite", "pymysql", "disk"):
        assert lines[key].status == "ok", (key, lines[key])
    assert (instance / "attachments").is_dir()  # "try to create them"
    packages = {k: v for k, v in lines.items() if k.startswith("package:")}
    assert {"package:flask", "package:sqlalchemy", "package:pymysql", "package:waitress"} <= set(packages)
    assert packages["package:flask"].detail == "version " + metadata.version("Flask")
    assert all(p.status == "ok" for p in packages.values())
    assert not installer.blocking(list(lines.values()))


def test_server_check_fails_on_unwritable_folders_with_the_fix(ctx, tmp_path, unwritable):
    locked = unwritable(tmp_path / "locked")
    lines = _lines(tmp_path, instance_path=locked / "instance", attachments_dir=locked / "attachments",
                   config_file=locked / "conf" / "config.ini")
    for key in ("instance", "attachments", "config"):
        assert lines[key].status == "fail", key
        assert str(locked) in lines[key].detail
        assert "mkdir -p" in lines[key].fix and "chmod 755" in lines[key].fix
    assert installer.blocking(list(lines.values()))


def test_server_check_warns_when_an_incomplete_config_file_exists(ctx, instance):
    (instance / "config.ini").write_text("[server]\nport = 8080\n")
    line = _lines(instance)["config"]
    assert line.status == "warn" and "replace" in line.fix


# --- the database check ---------------------------------------------------------------------------------

def test_sqlite_check_accepts_a_new_file_and_creates_nothing(ctx, tmp_path):
    path = tmp_path / "sub" / "helpdesk.db"
    report = installer.check_database(DatabaseSettings(kind="sqlite", sqlite_path=str(path)))
    assert report.existing is None and report.server.startswith("SQLite 3.")
    assert not path.exists()


@pytest.mark.parametrize("case", ["unwritable", "folder", "relative", "not_a_database", "foreign_tables",
                                  "script_name", "static_folder"])
def test_sqlite_check_refuses_with_a_reason(ctx, tmp_path, unwritable, case):
    if case == "script_name":  # a file a web server would run
        path = tmp_path / "shell.php"
        expected = "ending in .db, .sqlite, .sqlite3"
    elif case == "static_folder":
        path = Path(installer.PROJECT_ROOT) / "static" / "helpdesk.db"
        expected = "static folder is public"
    elif case == "unwritable":
        path = unwritable(tmp_path / "locked") / "helpdesk.db"
        expected = "cannot be written"
    elif case == "folder":
        path = tmp_path
        expected = "is a folder"
    elif case == "relative":
        path = Path("helpdesk.db")
        expected = "full path"
    elif case == "not_a_database":
        path = tmp_path / "notes.db"
        path.write_text("just some notes, not a database" * 100)
        expected = "not a SQLite database"
    else:
        import sqlite3

        path = tmp_path / "other.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE wp_posts (id INTEGER PRIMARY KEY)")
        expected = "other tables"
    with pytest.raises(DatabaseProblem) as exc:
        installer.check_database(DatabaseSettings(kind="sqlite", sqlite_path=str(path)))
    assert exc.value.field == "sqlite_path"
    assert expected in exc.value.message


def test_mysql_check_names_an_unreachable_host_and_an_unknown_one(ctx):
    with pytest.raises(DatabaseProblem) as exc:
        installer.check_database(DatabaseSettings(kind="mysql", host="127.0.0.1", port=1, name="x", user="u"))
    assert exc.value.field == "host" and "Cannot reach a database server at 127.0.0.1:1" in exc.value.message
    with pytest.raises(DatabaseProblem) as exc:
        installer.check_database(DatabaseSettings(kind="mysql", host="no-such-host.invalid", name="x", user="u"))
    assert exc.value.field == "host" and "no-such-host.invalid is unknown" in exc.value.message


def test_mysql_check_requires_host_name_and_user(ctx):
    with pytest.raises(DatabaseProblem) as exc:
        installer.check_database(DatabaseSettings(kind="mysql", host="db", name="", user="u"))
    assert exc.value.field == "name"


if SERVER_URL:  # cases that need a MariaDB server: only in the MariaDB pass (and always there)

    def test_mariadb_check_reports_version_and_leaves_no_scratch_table(ctx, make_database):
        settings = make_database("mariadb")
        report = installer.check_database(settings)
        assert re.match(r"MariaDB 1\d\.\d+", report.server)
        assert report.existing is None and report.warnings == []
        assert table_names(settings) == set()

    def test_mariadb_wrong_password(ctx, make_database, limited_user):
        settings = make_database("mariadb")
        user, _password = limited_user(settings.name, "ALL PRIVILEGES")
        settings.user, settings.password = user, "not-the-password"
        with pytest.raises(DatabaseProblem) as exc:
            installer.check_database(settings)
        assert exc.value.field == "password" and f"refused the user {user}" in exc.value.message

    def test_mariadb_database_that_does_not_exist(ctx, make_database):
        settings = make_database("mariadb")
        settings.name = settings.name + "_missing"
        with pytest.raises(DatabaseProblem) as exc:
            installer.check_database(settings)
        assert exc.value.field == "name"
        assert f"The database {settings.name} does not exist" in exc.value.message
        assert "CREATE DATABASE" in exc.value.message

    @pytest.mark.parametrize("granted, missing", [
        ("SELECT, INSERT", "CREATE"),
        ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX", "ALTER"),
        ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER", "INDEX"),
        ("SELECT, INSERT, UPDATE, CREATE, DROP, ALTER, INDEX", "DELETE"),
    ])
    def test_mariadb_privilege_test_names_the_missing_privilege(ctx, make_database, limited_user, granted,
                                                                missing):
        settings = make_database("mariadb")
        settings.user, settings.password = limited_user(settings.name, granted)
        with pytest.raises(DatabaseProblem) as exc:
            installer.check_database(settings)
        assert f"lacks the {missing} privilege on the database {settings.name}" in exc.value.message
        assert "GRANT ALL PRIVILEGES" in exc.value.message
        # the scratch table went away again when the user could drop it
        if "DROP" in granted:
            assert table_names(settings) == set()

    def test_mariadb_user_with_all_privileges_on_its_database_passes(ctx, make_database, limited_user):
        settings = make_database("mariadb")
        settings.user, settings.password = limited_user(settings.name, "ALL PRIVILEGES")
        assert installer.check_database(settings).existing is None

    def test_mariadb_latin1_database_gets_a_warning(ctx, make_database):
        settings = make_database("mariadb", charset="latin1")
        report = installer.check_database(settings)
        assert any("latin1" in w for w in report.warnings)


# --- URLs and answers ------------------------------------------------------------------------------------

def test_database_settings_from_urls(ctx, tmp_path):
    s = DatabaseSettings.from_url("sqlite:///rel/helpdesk.db", base=tmp_path)
    assert s.kind == "sqlite" and s.sqlite_path == str(tmp_path / "rel" / "helpdesk.db")
    s = DatabaseSettings.from_url("mysql+pymysql://bob:p%40ss%3Aw%2Frd@db.example:3307/desk")
    assert (s.kind, s.host, s.port, s.name, s.user, s.password) == ("mysql", "db.example", 3307, "desk", "bob",
                                                                     "p@ss:w/rd")
    # the URL written to config.ini gives the same password back
    again = DatabaseSettings.from_url(s.url_string())
    assert again.password == "p@ss:w/rd" and "charset=utf8mb4" in s.url_string()
    assert "p@ss" not in s.describe() and "desk" in s.describe()
    for bad in ("nonsense", "postgresql://x@y/z", "sqlite://", "mysql+pymysql://host/"):
        with pytest.raises(ValueError):
            DatabaseSettings.from_url(bad)


def test_helpdesk_problems_apply_the_settings_and_password_rules(ctx):
    good = dict(title="Desk", url="https://example.com/helpdesk", language="en", timezone="Europe/Riga",
                admin_name="Ada", admin_email="ada@example.com", admin_username="ada")
    assert installer.helpdesk_problems(**good, admin_password=ADMIN_PASSWORD, admin_password2=ADMIN_PASSWORD) == {}
    bad = installer.helpdesk_problems(
        **{**good, "url": "example.com", "timezone": "Mars/Olympus", "admin_email": "ada@", "admin_username": "a b",
           "admin_name": " "}, admin_password="short")
    assert set(bad) == {"url", "timezone", "admin_email", "admin_username", "admin_name", "admin_password"}
    assert installer.helpdesk_problems(**good, admin_password="ada")["admin_password"]
    assert "match" in installer.helpdesk_problems(**good, admin_password=ADMIN_PASSWORD,
                                                  admin_password2=ADMIN_PASSWORD + "x")["admin_password2"]


def test_spam_questions_have_the_right_answers(ctx):
    seen = set()
    for seed in range(200):
        ask, answer = installer.spam_question(random.Random(seed))
        assert ask and answer
        if m := re.match(r"What is the next number after (\d+)\?", ask):
            assert answer == str(int(m.group(1)) + 1)
            seen.add("next")
        elif m := re.match(r"What is (\d+) plus (\d+)\?", ask):
            assert answer == str(int(m.group(1)) + int(m.group(2)))
            seen.add("sum")
        elif m := re.match(r"Which number is higher, (\d+) or (\d+)\?", ask):
            assert answer == str(max(int(m.group(1)), int(m.group(2))))
            seen.add("higher")
        elif m := re.match(r"Type <i>(\w{5})</i> here", ask):
            assert answer == m.group(1)
            seen.add("code")
        elif ask.startswith("What colour is"):
            assert answer in ("white", "green", "blue")
            seen.add("colour")
        elif ask.startswith("Which of these is an animal"):
            assert answer in ("dog", "cat", "horse", "cow") and answer in ask
            seen.add("animal")
        else:
            assert ask == "Are you a robot? Answer yes or no." and answer == "no"
            seen.add("robot")
    assert len(seen) == 7


def test_restart_file_is_touched_only_under_passenger(tmp_path):
    assert installer.signal_restart(tmp_path) is False
    assert not (tmp_path / "tmp").exists()
    (tmp_path / "tmp").mkdir()
    marker = tmp_path / "tmp" / "restart.txt"
    marker.touch()
    os.utime(marker, (1000, 1000))
    assert installer.signal_restart(tmp_path) is True
    assert marker.stat().st_mtime > time.time() - 60


def test_cron_and_pipe_lines_name_this_installation(tmp_path):
    default = bootstrap.default_instance_path() / "config.ini"
    assert installer.cron_line(default).startswith("*/5 * * * * /")
    assert installer.cron_line(default).endswith("hesk-py cron")
    line = installer.cron_line(tmp_path / "config.ini")
    assert f"HESK_PY_CONFIG={tmp_path / 'config.ini'} " in line
    command = line.split("HESK_PY_CONFIG=")[1].split(" ", 1)[1].rsplit(" ", 1)[0]
    assert os.access(command, os.X_OK), command  # the exact program, so cron finds it
    assert installer.pipe_command(tmp_path / "config.ini").endswith("hesk-py pipe")


def test_piping_is_offered_once_the_pipe_verb_files_email(instance):
    """"hesk-py pipe" files email (cli.PIPE_AVAILABLE), so the Finish page offers it; before the help desk
    is installed it keeps every message for later (exit 75: the mail server retries)."""
    from hesk_py import cli

    app = create_app(uninstalled_config(instance))
    result = app.test_cli_runner().invoke(args=["pipe"], input="From: a@example.com\n\nhello\n")
    assert result.exit_code == cli.EX_TEMPFAIL and "not installed" in result.output
    assert installer.pipe_available() is True


# --- installer state and the one-time login --------------------------------------------------------------

def test_state_keeps_secrets_server_side_and_private(tmp_path):
    cfg = tmp_path / "config.ini"
    key = state.signing_key(cfg)
    assert key and state.signing_key(cfg) == key
    wid = state.new_id()
    state.save_secrets(cfg, wid, db_password="pw")
    state.save_secrets(cfg, wid, admin_password_hash="scrypt:x")
    assert state.load_secrets(cfg, wid) == {"db_password": "pw", "admin_password_hash": "scrypt:x"}
    folder = state.state_dir(cfg)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert state.load_secrets(cfg, "../../etc/passwd") == {}
    with pytest.raises(ValueError):
        state.save_secrets(cfg, "../x", a=1)
    with state.install_lock(cfg):
        with pytest.raises(state.InstallBusy):
            with state.install_lock(cfg):
                pass
    with state.install_lock(cfg):  # released after use
        pass
    state.forget(cfg)
    assert not folder.exists()


def test_first_login_grant_works_once(tmp_path):
    cfg = tmp_path / "config.ini"
    token = first_login.new_token()
    path = first_login.grant(cfg, 7, token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in path.read_text()  # only its hash is stored
    assert first_login.consume(cfg, "wrong") is None
    assert first_login.consume(cfg, None) is None
    assert first_login.consume(cfg, token) == 7
    assert first_login.consume(cfg, token) is None  # never twice
    first_login.grant(cfg, 7, token)
    data = json.loads(path.read_text())
    data["expires"] = int(time.time()) - 1
    path.write_text(json.dumps(data))
    assert first_login.consume(cfg, token) is None
    assert not path.exists()


# --- installing --------------------------------------------------------------------------------------------

def _plan(folder: Path, settings: DatabaseSettings, **kw) -> InstallPlan:
    values = dict(database=settings, config_file=folder / "config.ini", instance_path=folder,
                  attachments_dir=folder / "attachments", title="Acme Support", url="https://desk.example/helpdesk",
                  language="en", timezone="Europe/Riga", admin_name="Ada Admin", admin_email="ada@acme.example",
                  admin_username="ada", admin_password=ADMIN_PASSWORD, project_root=folder,
                  app_config={"HESK_LOG_LEVEL": "WARNING"})
    values.update(kw)
    return InstallPlan(**values)


def _run(plan, **kw):
    job = Installation(plan, **kw)
    events = list(job.run())
    return job, events


def _installed_app(folder: Path):
    return create_app(uninstalled_config(folder))


@pytest.mark.parametrize("kind", DB_KINDS)
def test_install_creates_a_working_help_desk(ctx, instance, make_database, kind):
    settings = make_database(kind)
    (instance / "tmp").mkdir()  # as under Passenger
    job, events = _run(_plan(instance, settings, first_login_token="tok-123"))
    assert job.ok, job.error
    assert [e.step for e in events if e.status == "start"] == list(Installation.INSTALL_STEPS)
    assert [e.status for e in events if e.status != "start"] == ["done"] * len(Installation.INSTALL_STEPS)
    assert (instance / "tmp" / "restart.txt").exists()

    cfg_path = instance / "config.ini"
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cfg_path)
    assert parser["database"]["url"] == settings.url_string()
    assert len(parser["security"]["secret_key"]) >= 48
    assert parser["security"]["secure_cookies"] == "false"

    app = _installed_app(instance)
    assert app.config["HESK_INSTALLED"]
    with app.app_context():
        from hesk_py import settings as hesk_settings
        from hesk_py.extensions import db
        from hesk_py.models import Category, KbCategory, Priority, Status
        from hesk_py.services import accounts, schema

        assert schema.pending_revisions() == []
        assert db.session.get(Category, 1).name == "General"
        kb_root = db.session.get(KbCategory, 1)  # the knowledgebase's root, every category hangs below it
        assert kb_root is not None and kb_root.parent_id is None and kb_root.name == "Knowledgebase"
        assert db.session.query(Status).count() == 6 and db.session.query(Priority).count() == 4
        assert hesk_settings.get("hesk_title") == "Acme Support"
        assert hesk_settings.get("hesk_url") == "https://desk.example/helpdesk"
        assert hesk_settings.get("site_url") == "https://desk.example"
        assert hesk_settings.get("timezone") == "Europe/Riga"
        assert hesk_settings.get("webmaster_mail") == "ada@acme.example"
        assert hesk_settings.get("noreply_mail") == "noreply@acme.example"
        assert hesk_settings.get("question_ans") and hesk_settings.get("question_ans") != "PB6YM"
        user = accounts.authenticate("ada", ADMIN_PASSWORD)
        assert user is not None and user.is_admin and user.id == job.admin_id
        db.engine.dispose()
    assert first_login.consume(cfg_path, "tok-123") == job.admin_id


def test_install_keeps_a_hand_written_server_section(ctx, instance, make_database):
    """An admin who wrote [server] (URL prefix, trusted proxy) before installing keeps it."""
    cfg_path = instance / "config.ini"
    cfg_path.write_text("[server]\nurl_prefix = /helpdesk\ntrusted_proxies = 1\n", encoding="utf-8")
    job, _events = _run(_plan(instance, make_database(DB_KINDS[0])))
    assert job.ok, job.error
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cfg_path)
    assert parser["server"]["url_prefix"] == "/helpdesk" and parser["server"]["trusted_proxies"] == "1"
    assert parser["database"]["url"]
    app = _installed_app(instance)
    assert app.config["HESK_URL_PREFIX"] == "/helpdesk" and app.config["HESK_INSTALLED"]
    with app.app_context():
        from hesk_py.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_install_from_the_wizard_keeps_only_the_password_hash(ctx, instance, make_database, kind):
    from hesk_py.services.accounts import hash_password

    settings = make_database(kind)
    job, _events = _run(_plan(instance, settings, admin_password=None,
                              admin_password_hash=hash_password(ADMIN_PASSWORD)))
    assert job.ok, job.error
    app = _installed_app(instance)
    with app.app_context():
        from hesk_py.extensions import db
        from hesk_py.services import accounts

        assert accounts.authenticate("ada", ADMIN_PASSWORD) is not None
        db.engine.dispose()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_install_never_overwrites_an_existing_help_desk(ctx, tmp_path, make_database, kind):
    settings = make_database(kind)
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir(), second.mkdir()
    job, _events = _run(_plan(first, settings))
    assert job.ok
    before = table_names(settings)
    job2, events = _run(_plan(second, settings, admin_username="mallory"))
    assert not job2.ok and job2.failed_step == "database"
    assert "never overwrites" in job2.error
    assert not any(e.step == "rollback" for e in events)  # nothing created, nothing removed
    assert table_names(settings) == before
    assert not (second / "config.ini").exists()
    app = _installed_app(first)
    with app.app_context():
        from hesk_py.extensions import db
        from hesk_py.models import User

        assert [u.username for u in db.session.query(User)] == ["ada"]
        db.engine.dispose()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_failed_install_removes_what_it_created(ctx, tmp_path, make_database, unwritable, kind):
    settings = make_database(kind)
    if kind == "mariadb":
        # a table of another application shares the database: it must survive the rollback
        from install.installer import make_engine

        engine = make_engine(settings.url())
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE wp_posts (id INT PRIMARY KEY)"))
        engine.dispose()
    folder = tmp_path / "inst"
    folder.mkdir()
    # The config file cannot be written, so the last step fails. (The wizard's own folder beside it was
    # made at its first page, before.)
    state.state_dir(tmp_path / "conf" / "config.ini").mkdir(parents=True)
    locked = unwritable(tmp_path / "conf")
    plan = _plan(folder, settings, config_file=locked / "config.ini", first_login_token="tok")
    job, events = _run(plan)
    assert not job.ok and job.failed_step == "config"
    assert "config.ini cannot be written" in job.error
    rollback = [e for e in events if e.step == "rollback" and e.status != "start"]
    assert rollback and rollback[0].status == "done"
    if kind == "sqlite":
        assert not Path(settings.sqlite_path).exists()
        assert "was deleted" in rollback[0].message
    else:
        assert table_names(settings) == {"wp_posts"}
        assert re.search(r"tables? it created (was|were) removed", rollback[0].message)
    assert not first_login.grant_path(plan.config_file).exists()
    # and it can be installed afterwards, as if nothing happened
    job2, _events = _run(_plan(folder, settings))
    assert job2.ok, job2.error


def test_two_installations_cannot_run_at_once(ctx, instance, make_database):
    settings = make_database("sqlite")
    with state.install_lock(instance / "config.ini"):
        job, events = _run(_plan(instance, settings))
    assert not job.ok and "Another installation is running" in job.error
    assert not Path(settings.sqlite_path).exists()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_upgrade_from_the_first_revision_keeps_the_data(ctx, instance, make_database, kind):
    settings = make_database(kind)
    data = build_first_revision(settings)
    if kind == "sqlite":
        # the Welcome page looks for a help desk in the default file
        default = installer.default_sqlite_path(instance)
        Path(settings.sqlite_path).rename(default)
        settings.sqlite_path = str(default)
        found = installer.find_existing(instance)
        assert found is not None and found.revision == "0001" and found.pending
    existing = installer.upgrade_pending(settings)
    assert existing.revision == "0001" and existing.pending[0][0] == "0002"
    assert existing.pending[-1][0] == existing.head
    job, events = _run(_plan(instance, settings, admin_username="nobody"), upgrade=True)
    assert job.ok, job.error
    assert [e.step for e in events if e.status == "start"] == list(Installation.UPGRADE_STEPS)
    assert job.revision == existing.head
    first_revision_data_intact(settings, data)
    app = _installed_app(instance)
    with app.app_context():
        from hesk_py.extensions import db
        from hesk_py.services import accounts, schema, tickets

        assert schema.pending_revisions() == []
        assert accounts.authenticate(data["username"], data["password"]) is not None
        assert accounts.authenticate("nobody", ADMIN_PASSWORD) is None  # an upgrade creates no admin
        ticket = tickets.get_ticket(data["trackids"][1])
        assert ticket.subject == data["subjects"][1]
        db.engine.dispose()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_upgrade_refuses_a_database_without_a_help_desk(ctx, instance, make_database, kind):
    settings = make_database(kind)
    job, _events = _run(_plan(instance, settings), upgrade=True)
    assert not job.ok and "no hesk_py help desk" in job.error
    assert not (instance / "config.ini").exists()


@pytest.mark.parametrize("kind", DB_KINDS)
def test_half_installed_or_newer_schemas_are_refused(ctx, instance, make_database, kind):
    settings = make_database(kind)
    build_first_revision(settings)
    from install.installer import make_engine

    engine = make_engine(settings.url())
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseProblem) as exc:
        installer.check_database(settings)
    assert "newer version of hesk_py" in exc.value.message and "9999" in exc.value.message
    # beside the field the form shows for this kind of database
    assert exc.value.field == ("sqlite_path" if kind == "sqlite" else "name")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    engine.dispose()
    with pytest.raises(DatabaseProblem) as exc:
        installer.check_database(settings)
    assert "stopped halfway" in exc.value.message
