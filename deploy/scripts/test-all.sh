#!/usr/bin/env bash
# The whole test suite, from a fresh machine: starts (installing if needed) the servers the tests
# use, then checks formatting and lints, then runs every test of every crate, then fuzzes the running
# service against its OpenAPI document. Non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

deploy/scripts/ensure-services.sh
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
deploy/scripts/schemathesis.sh
