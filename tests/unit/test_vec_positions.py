"""`vec.positions_of` (the value index's ids of one code) on both vector cores, against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from aegra import vec
from aegra.vec._backend import available, using


@pytest.mark.parametrize("backend", available())
@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 200, 4099])
def test_positions_are_those_of_a_plain_loop(backend: str, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 4, size).astype(np.uint8)
    data[::7] = 255
    with using(backend):  # type: ignore[arg-type]
        for value in (0, 3, 255, 9):
            found = vec.positions_of(data, value)
            assert found.dtype == np.int64
            assert found.tolist() == [i for i in range(size) if data[i] == value]
