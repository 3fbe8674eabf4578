"""The twin of `positions.rs`: where a byte array holds one value."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def positions_of(data: npt.NDArray[np.uint8], value: int) -> bytes:
    """The positions of `value` in `data`, ascending, as little-endian int64 bytes."""
    return np.flatnonzero(np.asarray(data, dtype=np.uint8) == value).astype("<i8").tobytes()
