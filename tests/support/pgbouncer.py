"""A throwaway PgBouncer in front of a test cluster, in transaction mode (Debian's `pgbouncer`).

Its pool is small (`default_pool_size` 4) so that one client's transactions land on different
server connections: what a prepared statement or a session advisory lock does not survive.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.postgres import as_db_user, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"  # Debian's package (scripts/test.sh installs it)

CONFIG = """\
[databases]
* = host={host} port={port} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 4
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


@contextmanager
def pgbouncer(cluster_url: str) -> Iterator[str]:
    """PgBouncer (transaction mode) for the cluster at `cluster_url` (`postgresql://user@host:port`);
    yields its base URL, to which a database name is appended as to the cluster's."""
    target = urlsplit(cluster_url)
    folder = Path(tempfile.mkdtemp(prefix="aegra-pgbouncer-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")  # PgBouncer refuses to run as root
    port = free_port()
    config = folder / "pgbouncer.ini"
    config.write_text(CONFIG.format(host=target.hostname, port=target.port, user=target.username, listen_port=port,
                                    folder=folder))  # fmt: skip
    process = subprocess.Popen(as_db_user([PGBOUNCER, str(config)]), stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_for_port(port, process, folder)
        yield f"postgresql://{target.username}@127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], folder: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = folder / "pgbouncer.log"
            raise RuntimeError(f"pgbouncer exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not listen in time")
