# SPDX-License-Identifier: MIT
"""LiberTEM half of bench/python_bench.py: run FrameSumBody on a raw file, print JSON timings.

Run by python_bench.py with LiberTEM's interpreter (bench/.venv):
    python python_bench_libertem.py PATH NAV SIG DTYPE REPEAT OUT.npy
"""

import json
import sys
import time

import numpy as np
from libertem.api import Context
from libertem.udf.base import UDF

from python_bench_udf import FrameSumBody


class FrameSum(FrameSumBody, UDF):
    pass


def main():
    path, nav, sig, dtype, repeat, out = sys.argv[1:7]
    nav = tuple(int(v) for v in nav.split("x"))
    sig = tuple(int(v) for v in sig.split("x"))
    timings = {}
    best_result = None
    for executor in ("inline", "threads", "dask"):
        try:
            ctx = Context.make_with(executor, cpus=2) if executor != "inline" else Context.make_with("inline")
        except Exception as e:  # an executor this install lacks
            timings[executor] = f"unavailable: {e}"
            continue
        try:
            ds = ctx.load("raw", path=path, nav_shape=nav, sig_shape=sig, dtype=dtype)
            ctx.run_udf(dataset=ds, udf=FrameSum())  # warm-up: workers, imports
            runs = []
            for _ in range(int(repeat)):
                begin = time.perf_counter()
                res = ctx.run_udf(dataset=ds, udf=FrameSum())
                runs.append(time.perf_counter() - begin)
            timings[executor] = runs
            best_result = np.asarray(res["intensity"].data)
        finally:
            ctx.close()
    np.save(out, best_result)
    import libertem

    print(json.dumps({"version": libertem.__version__, "timings": timings}))


if __name__ == "__main__":
    main()
