#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine and run the whole test suite. This is the test command
# README.md gives, and what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# PostgreSQL server binaries: the tests start throwaway clusters with initdb/pg_ctl.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
# PgBouncer: a server behind it in transaction mode (tests/e2e/test_pgbouncer.py).
if [ ! -x /usr/sbin/pgbouncer ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer
fi
# Chromium: the console's browser tests drive it with Playwright (tests/support/browser.py), and
# /docs is rendered with no network (tests/e2e/test_docs_page.py).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
# pgvector, where this distribution packages it (Debian 12's main archive does not).
for pgvector in /usr/lib/postgresql/*/lib/vector.so; do [ -e "$pgvector" ] && break; done
if [ ! -e "$pgvector" ]; then
  major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  if apt-cache show "postgresql-$major-pgvector" >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$major-pgvector"
  fi
fi

# The package with its dev extras; this builds the Rust extension aegra._vec.
python -m pip install -q --disable-pip-version-check -e ".[dev]"
# The official server (langgraph-cli[inmem], pinned) for the compatibility suite, in a venv of its
# own so its pins never move ours (tests/compat/official.py; kept under ~/.cache, keyed by the pins).
python -m tests.compat.official

cargo fmt --check
cargo clippy -q --all-features -- -D warnings
cargo test -q
ruff check .
ruff format --check .
python -m mypy                         # python/aegra ([tool.mypy] in pyproject.toml)
python -m pytest
