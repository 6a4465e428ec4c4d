#!/usr/bin/env bash
# Install what the tests need and run the whole suite on SQLite, then on MariaDB (browser tests included).
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n== %s ==\n' "$*"; }

step "Debian packages (Chromium for the browser tests, MariaDB, nginx, Dovecot)"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -x /usr/sbin/nginx ] || need+=(nginx)  # tests/packaging: nginx in front of hesk-py serve
# tests/email: each suite starts its own Dovecot on loopback (tests/email/conftest.py), no system service
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "ok"

step "MariaDB"
if ! mariadb -uroot -h127.0.0.1 -P3306 -e 'SELECT 1' >/dev/null 2>&1; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do
    mariadb -uroot -h127.0.0.1 -P3306 -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
  done
fi
mariadb -uroot -h127.0.0.1 -P3306 -e 'SELECT VERSION()'

step "Python packages (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import hesk_py, flask, sqlalchemy, pymysql, playwright, aiosmtpd, imapclient' 

# The two databases' suites run side by side (each in its own process, its own Playwright output folder);
# their output is shown as each finishes. HESK_TEST_SERIAL=1 runs them one after the other instead.
mkdir -p test-results
run_suite() {  # name, then the environment for it
  local name=$1; shift
  env "$@" .venv/bin/pytest -q -p no:cacheprovider --output="test-results/playwright-$name" "${PYTEST_ARGS[@]}" \
    > "test-results/$name.log" 2>&1
}
PYTEST_ARGS=("$@")
started=$(date +%s)
if [ "${HESK_TEST_SERIAL:-0}" = 1 ]; then
  run_suite sqlite -u HESK_TEST_DATABASE_URL && sqlite_rc=0 || sqlite_rc=$?
  run_suite mariadb HESK_TEST_DATABASE_URL="mysql+pymysql://root@127.0.0.1:3306/" && mariadb_rc=0 || mariadb_rc=$?
else
  step "Tests on SQLite and on MariaDB, side by side (logs in test-results/sqlite.log and mariadb.log)"
  run_suite sqlite -u HESK_TEST_DATABASE_URL & sqlite_pid=$!
  run_suite mariadb HESK_TEST_DATABASE_URL="mysql+pymysql://root@127.0.0.1:3306/" & mariadb_pid=$!
  while kill -0 "$sqlite_pid" 2>/dev/null || kill -0 "$mariadb_pid" 2>/dev/null; do
    sleep 30
    printf '  %ss: SQLite %s, MariaDB %s\n' "$(( $(date +%s) - started ))" \
      "$(grep -o '\[ *[0-9]*%\]' test-results/sqlite.log 2>/dev/null | tail -1)" \
      "$(grep -o '\[ *[0-9]*%\]' test-results/mariadb.log 2>/dev/null | tail -1)"
  done
  wait "$sqlite_pid" && sqlite_rc=0 || sqlite_rc=$?
  wait "$mariadb_pid" && mariadb_rc=0 || mariadb_rc=$?
fi
step "Tests on SQLite"
cat test-results/sqlite.log
step "Tests on MariaDB"
cat test-results/mariadb.log
printf '\nSQLite: %s, MariaDB: %s, %s s in all\n' "$([ $sqlite_rc = 0 ] && echo passed || echo FAILED)" \
  "$([ $mariadb_rc = 0 ] && echo passed || echo FAILED)" "$(( $(date +%s) - started ))"
[ "$sqlite_rc" = 0 ] && [ "$mariadb_rc" = 0 ]
