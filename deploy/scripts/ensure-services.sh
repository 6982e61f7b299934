#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are running on this machine, installing them from
# Debian's packages when they are missing (as root, on a fresh machine). Idempotent: services that
# already answer are left alone.
#   PostgreSQL on 127.0.0.1:5432, user postgres / password postgres
#   Redis on 127.0.0.1:6379
#   Python's aiosmtpd, which the tests start as their SMTP server (tests/smtp-sink/sink.py)
#   Debian's Chromium with CJK fonts, Node.js and playwright-core, for the browser tests
set -euo pipefail

apt_updated=0
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "ensure-services: $* missing and not root; install it or start the service" >&2
        exit 1
    fi
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {
    local what=$1; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    echo "ensure-services: $what did not come up" >&2
    exit 1
}

ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        echo "PostgreSQL: already running"
    else
        command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
        local version
        version=$(ls /etc/postgresql | sort -V | tail -n 1)
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
        echo "PostgreSQL $version: started"
    fi
    # The tests log in over TCP with a password; trust-auth servers ignore it.
    if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
        fi
        PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null
    fi
}

ensure_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
        echo "Redis: already running"
        return
    fi
    command -v redis-server >/dev/null || apt_install redis-server
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/policy-push-tests.log
    wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
    echo "Redis: started"
}

ensure_smtp_sink() {
    if python3 -c 'import aiosmtpd' 2>/dev/null; then
        echo "aiosmtpd: already installed"
        return
    fi
    command -v python3 >/dev/null || apt_install python3
    if ! python3 -m pip install -q aiosmtpd==1.4.6 2>/dev/null; then
        apt_install python3-aiosmtpd
    fi
    python3 -c 'import aiosmtpd'
    echo "aiosmtpd: installed"
}

ensure_browser() {
    local missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing+=(fonts-noto-cjk)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
    local here
    here=$(cd "$(dirname "$0")/../.." && pwd)
    if [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
        npm ci --prefix "$here/tests/browser" --no-audit --no-fund >/dev/null
    fi
    echo "Chromium $(chromium --version 2>/dev/null | awk '{print $2}'), playwright-core: ready"
}

ensure_postgres
ensure_redis
ensure_smtp_sink
ensure_browser
