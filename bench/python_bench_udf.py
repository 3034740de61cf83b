# SPDX-License-Identifier: MIT
"""The Python UDF body that bench/python_bench.py runs under Tessera and under LiberTEM.

One class body, two base classes: ``type("X", (FrameSumBody, tessera.UDF), {})`` and
``type("X", (FrameSumBody, libertem.udf.base.UDF), {})`` run the very same code.
"""

import numpy as np


class FrameSumBody:
    """Sum of every frame (a nav buffer), tile by tile: NumPy work plus per-call overhead."""

    def get_result_buffers(self):
        return {"intensity": self.buffer(kind="nav", dtype="float64")}

    def process_tile(self, tile):
        self.results.intensity[:] += np.sum(tile, axis=tuple(range(1, tile.ndim)))
