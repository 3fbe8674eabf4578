"""Progress bars on stderr, so that stdout keeps only the command's results."""

from __future__ import annotations

import sys
from typing import Any

import click


def progress_bar(label: str, length: int) -> Any:
    """A `click.progressbar` over `length` steps (on a terminal; elsewhere it prints the label once)."""
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True)
