"""What `aegra dev` watches: the graphs' Python sources, the config file and the `.env` files.

Anything else that changes in the project (the SQLite file, a `aegra db export` archive, logs, a
notebook's output) must not restart the server. The CLI computes the rules from the settings
(`watch_rules`) and hands them to the server's main process on its command line; there they
become a watchfiles filter (aegra/server/reload_filter.py), which Granian's reloader takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aegra.config import Settings


@dataclass(frozen=True)
class WatchRules:
    files: tuple[Path, ...]  # watched as they are: the config file, .env files
    source_dirs: tuple[Path, ...]  # every `*.py` below these

    def argv(self) -> list[str]:
        """The rules as options of `python -m aegra.server.process`."""
        return [
            *(arg for file in self.files for arg in ("--watch-file", str(file))),
            *(arg for folder in self.source_dirs for arg in ("--watch-sources", str(folder))),
        ]


def watch_rules(settings: Settings, env: dict[str, str]) -> WatchRules:
    """The config file, the `.env` files it reads, and the folders its Python code lives in: the
    config's folder, the `dependencies` folders and those of `./file.py` entries outside them."""
    config = settings.config
    files = [settings.config_path, (Path.cwd() / env.get("AEGRA_ENV_FILE", ".env")).resolve()]
    if isinstance(config.env, str):
        files.append(settings.resolve(config.env))
    sources = [settings.base_dir, *(settings.resolve(folder) for folder in config.dependencies)]
    specs = [spec.path for spec in config.graph_specs().values()]
    specs += [config.auth.path] if config.auth and config.auth.path else []
    specs += [config.http.app] if config.http and config.http.app else []
    specs += [config.store.index.embed] if config.store and config.store.index else []
    for spec in specs:
        target = spec.rpartition(":")[0]
        if target.endswith(".py") or "/" in target:
            sources.append(settings.resolve(target).parent)
    return WatchRules(files=tuple(dict.fromkeys(files)), source_dirs=tuple(dict.fromkeys(sources)))
