"""Options several commands share."""

from __future__ import annotations

from pathlib import Path

import click

config_option = click.option(
    "--config", "-c", type=click.Path(path_type=Path, dir_okay=False), help="Config file (default: ./aegra.json)"
)
env_file_option = click.option(
    "--env-file", "-e", type=click.Path(path_type=Path, dir_okay=False), help="The .env file (default: ./.env)"
)
host_option = click.option("--host", default=None, help="Bind address  [default: HOST or 127.0.0.1]")
port_option = click.option("--port", type=int, default=None, help="Port  [default: PORT or 2026]")
metrics_port_option = click.option(
    "--metrics-port", type=click.IntRange(1, 65535), default=None,
    help="Also serve /metrics (Prometheus) on this port, for all the workers, without auth",
)  # fmt: skip
no_reload_option = click.option("--no-reload", is_flag=True, help="Do not restart when files change")
