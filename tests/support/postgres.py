"""A throwaway PostgreSQL cluster for the tests: `initdb` + `pg_ctl` on a free port.

Debian keeps the server binaries in /usr/lib/postgresql/<major>/bin, off PATH. PostgreSQL
refuses to run as root, so as root the cluster is created and started as the `postgres`
system user (which Debian's package creates). Set AEGRA_TEST_POSTGRES_URL to use an
existing server instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def find_pg_bin() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return candidates[-1].parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_db_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class Cluster:
    url: str  # `postgresql://user@127.0.0.1:port`, no database part
    data: Path
    pg_bin: Path

    def stop(self) -> None:
        subprocess.run(
            _as_db_user([str(self.pg_bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Start a cluster on a free port; stop and remove it on exit."""
    pg_bin = find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix="aegra-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    port = free_port()
    subprocess.run(
        _as_db_user([str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_db_user([str(pg_bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    cluster = Cluster(url=f"postgresql://{user}@127.0.0.1:{port}", data=data, pg_bin=pg_bin)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def create_database(base_url: str, name: str | None = None) -> str:
    """A fresh, empty database on the cluster; returns its URL."""
    import psycopg

    name = name or f"aegra_{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return f"{base_url}/{name}"
