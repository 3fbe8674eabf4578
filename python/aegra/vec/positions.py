"""Where a byte array holds one value (the store's value index: the ids whose value has a code)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aegra.vec import _backend


def positions_of(data: npt.NDArray[np.uint8], value: int) -> npt.NDArray[np.int64]:
    """The positions of `value` in the C-contiguous uint8 array `data`, ascending."""
    found = _backend.current().positions_of(np.ascontiguousarray(data, dtype=np.uint8), int(value))
    return np.frombuffer(found, dtype="<i8").astype(np.int64, copy=False)
