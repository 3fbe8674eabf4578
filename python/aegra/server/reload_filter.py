"""The watchfiles filter of `aegra dev`'s reloader: the rules the CLI computed (aegra/cli/reload.py),
the config file and `.env` files by path and every `*.py` below the source folders, and nothing else."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfiles import BaseFilter

# Folders that hold no project source even when they sit inside the project, on top of
# watchfiles' defaults (.git, .venv, __pycache__, node_modules, ...).
IGNORED_DIRS = ("venv", "site-packages", ".ruff_cache", "build", "dist")
SOURCE_SUFFIXES = (".py",)


def watched_folders(files: Sequence[Path], source_dirs: Sequence[Path]) -> list[Path]:
    """The folders to watch: the source folders and those of the files (which may not exist yet),
    none inside another."""
    folders: list[Path] = []
    for folder in [*source_dirs, *(file.parent for file in files)]:
        if folder.is_dir() and not any(folder.is_relative_to(seen) for seen in folders):
            folders = [seen for seen in folders if not seen.is_relative_to(folder)] + [folder]
    return folders


def sources_filter(files: Sequence[Path], source_dirs: Sequence[Path]) -> type[BaseFilter]:
    """A watchfiles filter class that lets through changes to `files` and to `*.py` below `source_dirs`.

    A new class each time: Granian extends the class attributes of the filter it is given.
    """
    from watchfiles import DefaultFilter

    watched = frozenset(str(file) for file in files)
    prefixes = tuple(f"{folder}{os.sep}" for folder in source_dirs)

    class SourcesFilter(DefaultFilter):
        ignore_dirs = (*DefaultFilter.ignore_dirs, *IGNORED_DIRS)

        def __call__(self, change: object, path: str) -> bool:
            if path in watched:
                return True
            return path.endswith(SOURCE_SUFFIXES) and path.startswith(prefixes) and super().__call__(change, path)  # type: ignore[arg-type]

    return SourcesFilter
