#!/usr/bin/env bash
# Install what the tests need and run the whole suite on SQLite, then on MariaDB (browser tests included).
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n== %s ==\n' "$*"; }

step "Debian packages (Chromium for the browser tests, MariaDB)"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
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
.venv/bin/python -c 'import hesk_py, flask, sqlalchemy, pymysql, playwright, aiosmtpd' 

status=0
step "Tests on SQLite"
env -u HESK_TEST_DATABASE_URL .venv/bin/pytest -q "$@" || status=1
step "Tests on MariaDB"
HESK_TEST_DATABASE_URL="mysql+pymysql://root@127.0.0.1:3306/" .venv/bin/pytest -q "$@" || status=1
exit $status
