#!/usr/bin/env bash
# Fuzzes the running service against its own OpenAPI document with schemathesis: the real binary,
# once on SQLite (a temporary folder, demo data) and once on a scratch PostgreSQL database, as an
# administrator with an API token. Fails on any server error, undocumented status code, response
# that breaks its schema, or wrong content type.
#   SCHEMATHESIS_EXAMPLES   test cases per operation and phase (default 15: one to two minutes a
#                           backend on 2 cores)
#   TEST_POSTGRES_URL       the PostgreSQL server's maintenance database (default as in test-all.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."

version=4.32.5
examples="${SCHEMATHESIS_EXAMPLES:-15}"
admin_url="${TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/policy-push/schemathesis-$version"

if [ ! -x "$venv/bin/schemathesis" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian leaves ensurepip out of python3 itself.
        rm -rf "$venv"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q "schemathesis==$version"
fi

cargo build -p policy-push --locked
binary="${CARGO_TARGET_DIR:-$PWD/target}/debug/policy-push"

work=$(mktemp -d)
scratch_db="policy_push_schemathesis_$$"
# PostgreSQL has no data folder for generated secrets: the server and the token command share
# these, as a deployment's instances and commands would.
export POLICY_PUSH_LINK_SECRET="schemathesis-link-secret-$$-0123456789"
export POLICY_PUSH_ID_HASH_SECRET="schemathesis-id-hash-secret-$$-0123456789"
server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
cleanup() {
    stop_server
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $scratch_db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Serves DATABASE_URL with demo data, mints an admin token and fuzzes every operation.
fuzz() {
    local backend=$1 database_url=$2 port
    port=$(free_port)
    echo "schemathesis $version on $backend (port $port, $examples examples per operation)"
    DATABASE_URL="$database_url" POLICY_PUSH_MAIL__OUTBOX_DIR="$work/outbox-$backend" \
        POLICY_PUSH_PUBLIC_URL="http://127.0.0.1:$port" RUST_LOG=warn \
        "$binary" serve --listen "127.0.0.1:$port" 2>"$work/server-$backend.log" &
    server_pid=$!
    local waited=0
    until curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; do
        if ! kill -0 "$server_pid" 2>/dev/null || [ "$waited" -ge 240 ]; then
            echo "the service on $backend did not become ready; its log:" >&2
            cat "$work/server-$backend.log" >&2
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    local token
    token=$(DATABASE_URL="$database_url" "$binary" token-create admin --name schemathesis) || return 1
    local status=0
    # From the scratch folder, where schemathesis keeps its cache of crashes.
    (cd "$work" && "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
        --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$examples" \
        --seed 20261206 \
        --workers 2 \
        --request-timeout 30 \
        --header "Authorization: Bearer $token" \
        --generation-database none \
        --no-color) || status=$?
    stop_server
    if [ "$status" != 0 ]; then
        echo "schemathesis failed on $backend; the server's log:" >&2
        tail -n 50 "$work/server-$backend.log" >&2
    fi
    return "$status"
}

failed=0
fuzz sqlite "sqlite://$work/sqlite/policy-push.db" || failed=1
psql -q "$admin_url" -c "CREATE DATABASE $scratch_db" >/dev/null
fuzz postgres "${admin_url%/*}/$scratch_db" || failed=1
exit "$failed"
