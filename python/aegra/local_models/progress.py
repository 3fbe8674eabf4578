"""Download progress for a log rather than a terminal: a line every tenth of the way (the end is
the caller's to say: the size expected beforehand is an estimate).

`aegra dev` downloads a missing model in the background while the server runs; a terminal
progress bar would be redrawn over the server's log lines. huggingface_hub takes any tqdm class
for its byte counters (`tqdm_class`), so this one prints plain lines instead of drawing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tqdm.auto import tqdm

STEPS = 10
MB = 1_000_000


class _Discard:
    """Where the bar itself goes: nowhere (tqdm still writes on close)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class LoggedProgress(tqdm):
    """Prints `<label>: 30% (20.1 of 67.0 MB)` each time another tenth of the bytes is in.

    Made per download with `named`: huggingface_hub opens a bar for the bytes received and one
    for the bytes written, whose totals grow as files are added; the steps printed are shared
    by the download's bars (so each tenth is printed once), measured against the larger of their
    total and the size expected beforehand.
    """

    label: ClassVar[str] = "download"
    expected_bytes: ClassVar[int] = 0
    reported: ClassVar[list[int]] = [0]

    @classmethod
    def named(cls, label: str, expected_bytes: int = 0) -> type[LoggedProgress]:
        attributes = {"label": label, "expected_bytes": expected_bytes, "reported": [0]}
        return type("LoggedProgress", (cls,), attributes)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(disable=False, file=_Discard(), leave=False)
        super().__init__(*args, **kwargs)

    def update(self, n: float | None = 1) -> bool | None:
        shown = super().update(n)
        total = max(self.total or 0, self.expected_bytes)
        if self.unit == "B" and total:
            self._report(min(STEPS, int(self.n * STEPS / total)), total)
        return shown

    def _report(self, step: int, total: float) -> None:
        if step > self.reported[0]:
            self.reported[0] = step
            done = f"{self.n / MB:.1f} of {total / MB:.1f} MB"
            print(f"[INFO] {self.label}: {step * 100 // STEPS}% ({done})", flush=True)
