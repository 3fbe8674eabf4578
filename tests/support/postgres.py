"""A throwaway PostgreSQL cluster for the tests: `initdb` + `pg_ctl` on a free port.

Debian keeps the server binaries in /usr/lib/postgresql/<major>/bin, off PATH. PostgreSQL
refuses to run as root, so as root the cluster is created and started as the `postgres`
system user (which Debian's package creates). Set AEGRA_TEST_POSTGRES_URL to use an
existing server instead.

Semantic search needs pgvector, which Debian 12 does not package. `pgvector_server` gives a
server that has it: AEGRA_TEST_POSTGRES_URL or Debian's PostgreSQL when they have `vector`,
else a cluster of the PostgreSQL 16 + pgvector binaries bundled in the `pgserver` wheel.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
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
from typing import Any

import pytest


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


def as_db_user(args: list[str]) -> list[str]:
    """`args` run as the `postgres` system user when we are root (PostgreSQL and PgBouncer refuse root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class Cluster:
    url: str  # `postgresql://user@127.0.0.1:port`, no database part
    data: Path
    pg_bin: Path
    options: str = ""
    log: Path | None = None

    def start(self) -> None:
        """Start it (again, after `stop()`: same port, same data)."""
        argv = [str(self.pg_bin / "pg_ctl"), "-D", str(self.data), "-o", self.options, "-w", "start"]
        if self.log is not None:
            argv[-2:-2] = ["-l", str(self.log)]
        subprocess.run(as_db_user(argv), check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(
            as_db_user([str(self.pg_bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )


@contextmanager
def throwaway_cluster(pg_bin: Path | None = None) -> Iterator[Cluster]:
    """Start a cluster on a free port (Debian's binaries unless `pg_bin` is given); stop and
    remove it on exit."""
    pg_bin = pg_bin or find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix="aegra-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    port = free_port()
    subprocess.run(
        as_db_user([str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    cluster = Cluster(
        url=f"postgresql://{user}@127.0.0.1:{port}", data=data, pg_bin=pg_bin, options=options, log=root / "log"
    )
    cluster.start()
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


# -- a server with pgvector ---------------------------------------------------------------------------


def has_pgvector(pg_bin: Path) -> bool:
    """Whether the installation of `pg_bin` ships the `vector` extension."""
    real_bin = (pg_bin / "pg_ctl").resolve().parent  # past /usr/local/bin-style symlinks
    pg_config = real_bin / "pg_config"
    if pg_config.exists():
        share = Path(subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True).stdout.strip())
    else:  # Debian's layout: /usr/lib/postgresql/<major>/bin -> /usr/share/postgresql/<major>
        share = Path("/usr/share/postgresql") / real_bin.parent.name
    return (share / "extension" / "vector.control").exists()


def pgserver_bin() -> Path | None:
    """The bin folder of the PostgreSQL 16 + pgvector that the `pgserver` wheel bundles, or None.

    As root, the cluster runs as `postgres`, who cannot read /root (pyenv's site-packages live
    there): the install is then copied once to a world-readable folder in the temp dir. The
    binaries find share/ and lib/ relative to bin/, and libpq through the RPATH
    `$ORIGIN/../../../pgserver.libs`, so the copy keeps the wheel's `pgserver/pginstall` +
    `pgserver.libs` layout.
    """
    # Located, not imported: importing pgserver makes lock files and warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    if not (package / "pginstall" / "bin" / "pg_ctl").exists():
        return None
    if os.geteuid() != 0:
        return package / "pginstall" / "bin"
    identity = f"{package.resolve()} {importlib.metadata.version('pgserver')}"
    tag = hashlib.sha256(identity.encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"aegra-pgserver-{tag}"
    if not (cache / "pgserver" / "pginstall" / "bin" / "pg_ctl").exists():
        staging = Path(tempfile.mkdtemp(prefix="aegra-pgserver-copy-"))
        shutil.copytree(package / "pginstall", staging / "pgserver" / "pginstall", symlinks=True)
        libs = package.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "pgserver.libs", symlinks=True)
        for folder in [staging, *staging.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
        try:
            staging.rename(cache)  # atomic: a concurrent test process may have won the race
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return cache / "pgserver" / "pginstall" / "bin"


def _server_has_pgvector(base_url: str) -> bool:
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None


_PGVECTOR_SERVER = pytest.StashKey[str]()


def pgvector_server(config: pytest.Config) -> str:
    """Base URL of a PostgreSQL server with pgvector, started once per test session (stopped at
    its end); skips the test when no source of pgvector is available."""
    if _PGVECTOR_SERVER in config.stash:
        return config.stash[_PGVECTOR_SERVER]
    given = os.environ.get("AEGRA_TEST_POSTGRES_URL")
    if given and _server_has_pgvector(given.rstrip("/")):
        url = given.rstrip("/")
    else:
        try:
            debian: Path | None = find_pg_bin()
        except RuntimeError:
            debian = None
        pg_bin = debian if debian and has_pgvector(debian) else pgserver_bin()
        if pg_bin is None:
            pytest.skip(
                "no PostgreSQL with pgvector: neither the server PostgreSQL (postgresql-<major>-pgvector) nor "
                "the `pgserver` package (pip install -e '.[dev]' on Linux, Python 3.11) provides it"
            )
        cluster = throwaway_cluster(pg_bin)
        url = cluster.__enter__().url
        config.add_cleanup(lambda: cluster.__exit__(None, None, None))
    config.stash[_PGVECTOR_SERVER] = url
    return url


def database_for(request: Any, folder: Path) -> str:
    """The database of a server fixture parametrized `sqlite` / `postgres` (`request.param`): a
    file in `folder`, or a new database on the session's throwaway cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'aegra.db'}"
    return create_database(request.getfixturevalue("postgres_server"))
