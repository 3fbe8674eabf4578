"""What `aegra dev` watches: the graphs' Python sources, the config file and the `.env` files.

Anything else that changes in the project (the SQLite file, a `aegra db export` archive, logs, a
notebook's output) must not restart the server. The CLI computes the rules from the settings
(`watch_rules`) and hands them to the server's main process on its command line; there they
become a watchfiles filter (`sources_filter`), which Granian's reloader takes as a class.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfiles import BaseFilter

    from aegra.config import Settings

# Folders that hold no project source even when they sit inside the project, on top of
# watchfiles' defaults (.git, .venv, __pycache__, node_modules, ...).
IGNORED_DIRS = ("venv", "site-packages", ".ruff_cache", "build", "dist")
SOURCE_SUFFIXES = (".py",)


@dataclass(frozen=True)
class WatchRules:
    files: tuple[Path, ...]  # watched as they are: the config file, .env files
    source_dirs: tuple[Path, ...]  # every `*.py` below these

    def folders(self) -> list[Path]:
        """The folders to watch: the source folders and those of the files (which may not exist yet)."""
        folders: list[Path] = []
        for folder in [*self.source_dirs, *(file.parent for file in self.files)]:
            if folder.is_dir() and not any(folder.is_relative_to(seen) for seen in folders):
                folders = [seen for seen in folders if not seen.is_relative_to(folder)] + [folder]
        return folders

    def argv(self) -> list[str]:
        """The rules as options of `aegra.cli.server_process`."""
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


def sources_filter(rules: WatchRules) -> type[BaseFilter]:
    """A watchfiles filter class that lets through changes to `rules` only.

    A new class each time: Granian extends the class attributes of the filter it is given.
    """
    from watchfiles import DefaultFilter

    files = frozenset(str(file) for file in rules.files)
    source_dirs = tuple(f"{folder}{os.sep}" for folder in rules.source_dirs)

    class SourcesFilter(DefaultFilter):
        ignore_dirs = (*DefaultFilter.ignore_dirs, *IGNORED_DIRS)

        def __call__(self, change: object, path: str) -> bool:
            if path in files:
                return True
            return path.endswith(SOURCE_SUFFIXES) and path.startswith(source_dirs) and super().__call__(change, path)  # type: ignore[arg-type]

    return SourcesFilter
