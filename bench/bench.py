# SPDX-License-Identifier: MIT
"""End-to-end benchmark: Tessera vs NumPy vs LiberTEM on the same generated files, in one run.

Run through bench/run_bench.sh, which builds Tessera, prepares the virtual environment and
compiles the bandwidth probe. Every figure is file bytes / seconds with the file in the page cache
(each file is read once right before each timing: this machine drops idle file pages after about a
minute). GB = 1e9 bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import warnings

# NumPy parallelises over chunks with our own two threads, so BLAS inside each must stay serial;
# threadpoolctl limits it around the NumPy timings only (LiberTEM manages its own thread pools).
try:
    from threadpoolctl import threadpool_limits
except ImportError:  # no LiberTEM either: cap BLAS for the whole process
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    threadpool_limits = None

import numpy as np  # noqa: E402

# LiberTEM's warnings (deprecated NumPy usage inside its UDFs) would drown the report.
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

REPO = Path(__file__).resolve().parent.parent
THREADS = 2
CHUNK_FRAMES = 64

# ----------------------------------------------------------------------------------------------
# Data sets and cases


@dataclass
class DataFile:
    key: str
    path: Path
    nav: tuple[int, int]
    sig: tuple[int, int]
    dtype: str  # numpy name: "float32", "uint16"

    @property
    def frames(self) -> int:
        return self.nav[0] * self.nav[1]

    @property
    def nbytes(self) -> int:
        return self.frames * self.sig[0] * self.sig[1] * np.dtype(self.dtype).itemsize


def data_files(directory: Path, small: bool) -> dict[str, DataFile]:
    sig = (256, 256)
    if small:  # 256 MiB each
        return {
            "f32": DataFile("f32", directory / "f32-small.raw", (32, 32), sig, "float32"),
            "u16": DataFile("u16", directory / "u16-small.raw", (64, 32), sig, "uint16"),
        }
    return {  # 4 GiB and 1 GiB
        "f32": DataFile("f32", directory / "f32.raw", (128, 128), sig, "float32"),
        "u16": DataFile("u16", directory / "u16.raw", (128, 64), sig, "uint16"),
    }


def ring_mask(sig, cy, cx, r_inner, r_outer) -> np.ndarray:
    """Return a float32 ring mask with Tessera's pixel rule: r_inner < r <= r_outer (r_inner = 0
    includes the centre)."""
    y, x = np.indices(sig, dtype=np.float64)
    d2 = (y - cy) ** 2 + (x - cx) ** 2
    inside = d2 <= r_outer * r_outer
    if r_inner > 0:
        inside &= d2 > r_inner * r_inner
    return inside.astype(np.float32)


@dataclass
class Case:
    name: str
    file: str  # key into data_files
    analysis: str  # tessera analysis name
    params: list[str] = field(default_factory=list)  # tessera --param values
    target: str = ""  # the target, for the table
    target_gbps: float | None = None
    # ring geometry (cy, cx, r_inner, r_outer) for each mask, shared by all three tools
    rings: list[tuple[float, float, float, float]] = field(default_factory=list)


CENTRE = 127.5
ONE_RING = [(CENTRE, CENTRE, 30.0, 100.0)]
SIXTEEN_RINGS = [(CENTRE, CENTRE, 8.0 * i, 8.0 * i + 8.0) for i in range(16)]


def mask_param(rings) -> str:
    return "masks=" + ";".join(f"ring:{cy},{cx},{ri},{ro}" for cy, cx, ri, ro in rings)


CASES = [
    Case("ring f32", "f32", "virtual-detector", [mask_param(ONE_RING)], ">=16 fresh, >=0.9 membw mapped",
         16.0, ONE_RING),
    Case("16 masks f32", "f32", "virtual-detector", [mask_param(SIXTEEN_RINGS)], ">=15", 15.0,
         SIXTEEN_RINGS),
    Case("frame-sum f32", "f32", "frame-sum", [], ">=25", 25.0),
    Case("sum f32", "f32", "sum", [], ">=25", 25.0),
    Case("stats f32", "f32", "stats", [], ">=25", 25.0),
    Case("com f32", "f32", "com", [], ">=20", 20.0),
    Case("ring u16", "u16", "virtual-detector", [mask_param(ONE_RING)], ">=15", 15.0, ONE_RING),
    Case("noop f32", "f32", "noop", [], "<=0.3 us/frame"),
]

# ----------------------------------------------------------------------------------------------
# Helpers


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def fmt_num(value, digits=1):
    return "n/a" if value is None else f"{value:.{digits}f}"


class Probe:
    """The compiled bench/membw.cc: memory bandwidth, page-cache bandwidth, warm reads."""

    def __init__(self, binary: Path):
        self.binary = binary

    def _run(self, *args) -> dict:
        out = subprocess.run([str(self.binary), *map(str, args)], check=True, capture_output=True,
                             text=True)
        return json.loads(out.stdout)

    def memory_gbps(self, gib: float) -> float:
        return self._run("mem", gib, THREADS)["gb_per_s"]

    def page_cache_gbps(self, path: Path) -> float:
        return self._run("file", path, THREADS)["gb_per_s"]

    def warm(self, path: Path) -> None:
        self._run("warm", path, THREADS)


def best_of(repeats: int, warm: Callable[[], None], run: Callable[[], float]) -> float:
    """Return the shortest of `repeats` timings, the file read once right before each."""
    best = float("inf")
    for _ in range(repeats):
        warm()
        best = min(best, run())
    return best


# ----------------------------------------------------------------------------------------------
# Tessera


class Tessera:
    def __init__(self, binary: Path | None):
        self.binary = binary
        self.version = None
        if binary is not None:
            try:
                out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                                     timeout=30)
                self.version = (out.stdout or out.stderr).strip() or None
            except (OSError, subprocess.SubprocessError):
                pass

    @property
    def available(self) -> bool:
        return self.binary is not None

    def generate(self, f: DataFile) -> None:
        cmd = [str(self.binary), "generate", "4dstem", str(f.path), "--scan",
               f"{f.nav[0]}x{f.nav[1]}", "--frame", f"{f.sig[0]}x{f.sig[1]}", "--dtype", f.dtype,
               "--seed", "0"]
        log("+", shlex.join(cmd))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    def command(self, case: Case, f: DataFile) -> list[str]:
        cmd = [str(self.binary), "run", case.analysis, str(f.path),
               "--nav-shape", f"{f.nav[0]}x{f.nav[1]}", "--sig-shape", f"{f.sig[0]}x{f.sig[1]}",
               "--dtype", f.dtype, "--json", "--repeat", "3"]
        for param in case.params:
            cmd += ["--param", param]
        return cmd

    def run(self, case: Case, f: DataFile) -> tuple[float, float, dict]:
        """Return (first pass's processing seconds as the CLI reports them, process wall seconds,
        its JSON). The JSON's elapsed_best_s is the best later pass over the still-mapped file."""
        cmd = self.command(case, f)
        begin = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - begin
        if out.returncode != 0:
            tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"exit {out.returncode}: {tail[0]}  [{shlex.join(cmd)}]")
        report = parse_json_output(out.stdout)
        elapsed = report.get("elapsed_s")
        return (float(elapsed) if elapsed is not None else wall), wall, report


def parse_json_output(text: str) -> dict:
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        # Tolerate a log line before the object: take the last line that parses.
        value = {}
        for line in reversed(text.splitlines()):
            try:
                value = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------------------------
# NumPy: np.memmap, chunks of 64 frames, two threads (BLAS serial inside each)


def numpy_kernel(case: Case, f: DataFile):
    """Return (per-chunk function on a (n, pixels) array, function combining the chunk results)."""
    sig = f.sig
    if case.analysis == "virtual-detector":
        masks = np.stack([ring_mask(sig, *r).ravel() for r in case.rings], axis=1)  # (pixels, m)
        if masks.shape[1] == 1:
            vector = np.ascontiguousarray(masks[:, 0])
            if f.dtype == "float32":
                return (lambda c: c @ vector), np.concatenate
            return (lambda c: c.astype(np.float32) @ vector), np.concatenate
        if f.dtype == "float32":
            return (lambda c: c @ masks), np.concatenate
        return (lambda c: c.astype(np.float32) @ masks), np.concatenate
    if case.analysis == "frame-sum":
        return (lambda c: c.sum(axis=1)), np.concatenate
    if case.analysis == "sum":
        return (lambda c: c.sum(axis=0)), (lambda parts: np.sum(parts, axis=0))
    if case.analysis == "stats":
        def chunk_stats(c):
            # float32 within a chunk of 64 frames (cache-resident), float64 across chunks.
            c = c if c.dtype == np.float32 else c.astype(np.float32)
            mean = c.mean(axis=0)
            d = c - mean
            m2 = np.einsum("ij,ij->j", d, d)
            return (c.shape[0], mean.astype(np.float64), m2.astype(np.float64), c.min(axis=0),
                    c.max(axis=0))

        def merge(parts):  # Chan et al.
            n, mean, m2, lo, hi = parts[0]
            for nb, mb, m2b, lob, hib in parts[1:]:
                total = n + nb
                delta = mb - mean
                mean = mean + delta * (nb / total)
                m2 = m2 + m2b + delta * delta * (n * nb / total)
                lo, hi, n = np.minimum(lo, lob), np.maximum(hi, hib), total
            var = m2 / n
            return mean, var, np.sqrt(var), lo, hi

        return chunk_stats, merge
    if case.analysis == "com":
        y, x = np.indices(sig, dtype=np.float32)
        coords = np.stack([np.ones(y.size, np.float32), y.ravel(), x.ravel()], axis=1)

        def merge(parts):
            m = np.concatenate(parts)
            return m[:, 1] / m[:, 0] - CENTRE, m[:, 2] / m[:, 0] - CENTRE

        return (lambda c: c @ coords), merge
    raise NotImplementedError(case.analysis)


def run_numpy(case: Case, f: DataFile) -> float:
    if threadpool_limits is not None:
        with threadpool_limits(limits=1):
            return run_numpy_serial_blas(case, f)
    return run_numpy_serial_blas(case, f)


def run_numpy_serial_blas(case: Case, f: DataFile) -> float:
    kernel, combine = numpy_kernel(case, f)
    pixels = f.sig[0] * f.sig[1]
    begin = time.perf_counter()
    data = np.memmap(f.path, dtype=f.dtype, mode="r", shape=(f.frames, pixels))
    bounds = [(i, min(i + CHUNK_FRAMES, f.frames)) for i in range(0, f.frames, CHUNK_FRAMES)]
    with ThreadPoolExecutor(THREADS) as pool:
        parts = list(pool.map(lambda b: kernel(data[b[0]:b[1]]), bounds))
    combine(parts)
    return time.perf_counter() - begin


# ----------------------------------------------------------------------------------------------
# LiberTEM


class LiberTEM:
    EXECUTORS = ("threads", "inline", "dask", "pipelined")

    def __init__(self, requested: str):
        self.requested = requested
        self.executor = None
        self.ctx = None
        self.version = None
        self.error = None
        self.tried = {}  # executor -> GB/s on the case used to choose
        self._datasets = {}
        try:
            import libertem  # noqa: F401
            from libertem.api import Context  # noqa: F401

            self.version = libertem.__version__
        except Exception as e:  # pragma: no cover - depends on the environment
            self.error = f"import failed: {e}"

    @property
    def available(self) -> bool:
        return self.error is None

    def _make(self, executor: str):
        from libertem.api import Context

        if executor in ("threads", "dask", "pipelined"):
            return Context.make_with(executor, cpus=THREADS)
        return Context.make_with(executor)

    def _dataset(self, ctx, f: DataFile):
        key = (id(ctx), f.key)
        if key not in self._datasets:
            self._datasets[key] = ctx.load("raw", path=str(f.path), nav_shape=f.nav,
                                           sig_shape=f.sig, dtype=f.dtype)
        return self._datasets[key]

    def _udfs(self, case: Case, f: DataFile):
        if case.analysis == "virtual-detector":
            from libertem.udf.masks import ApplyMasksUDF

            masks = [ring_mask(f.sig, *r) for r in case.rings]
            return [ApplyMasksUDF(mask_factories=[(lambda m=m: m) for m in masks])]
        if case.analysis == "frame-sum":
            from libertem.udf.sumsigudf import SumSigUDF

            return [SumSigUDF()]
        if case.analysis == "sum":
            from libertem.udf.sum import SumUDF

            return [SumUDF()]
        if case.analysis == "stats":
            from libertem.udf.stddev import StdDevUDF

            return [StdDevUDF()]
        if case.analysis == "com":
            from libertem.udf.com import CoMParams, CoMUDF

            return [CoMUDF(CoMParams(cy=CENTRE, cx=CENTRE))]
        if case.analysis == "noop":
            from libertem.udf.base import NoOpUDF

            return [NoOpUDF()]
        raise NotImplementedError(case.analysis)

    def _time(self, ctx, case: Case, f: DataFile) -> float:
        ds = self._dataset(ctx, f)
        udfs = self._udfs(case, f)
        begin = time.perf_counter()
        ctx.run_udf(dataset=ds, udf=udfs, progress=False)
        return time.perf_counter() - begin

    def choose_executor(self, case: Case, f: DataFile, warm: Callable[[], None]) -> None:
        """Keep the fastest executor on `case` (the first run of each compiles and is not timed)."""
        candidates = self.EXECUTORS if self.requested == "auto" else (self.requested,)
        best = None  # (seconds, name, ctx)
        for name in candidates:
            try:
                ctx = self._make(name)
            except Exception as e:
                log(f"libertem: executor {name!r} unavailable: {e}")
                continue
            try:
                self._time(ctx, case, f)  # numba compilation, worker start-up
                seconds = best_of(1, warm, lambda: self._time(ctx, case, f))
            except Exception as e:
                log(f"libertem: executor {name!r} failed: {e}")
                self._close(ctx)
                continue
            self.tried[name] = f.nbytes / seconds / 1e9
            log(f"libertem: executor {name!r}: {self.tried[name]:.2f} GB/s on {case.name}")
            if best is None or seconds < best[0]:
                if best is not None:
                    self._close(best[2])
                best = (seconds, name, ctx)
            else:
                self._close(ctx)
        if best is None:
            self.error = "no executor worked"
        else:
            _, self.executor, self.ctx = best

    def _close(self, ctx) -> None:
        self._datasets = {k: v for k, v in self._datasets.items() if k[0] != id(ctx)}
        try:
            ctx.close()
        except Exception:
            pass

    def run(self, case: Case, f: DataFile) -> float:
        return self._time(self.ctx, case, f)

    def close(self) -> None:
        if self.ctx is not None:
            self._close(self.ctx)
            self.ctx = None


# ----------------------------------------------------------------------------------------------
# Main


def ensure_file(f: DataFile, tessera: Tessera, allow_numpy_data: bool) -> str:
    """Make sure `f` exists with the right size; return how it was made."""
    f.path.parent.mkdir(parents=True, exist_ok=True)
    stamp = f.path.with_suffix(".made-by")
    if f.path.exists() and f.path.stat().st_size == f.nbytes and stamp.exists():
        made_by = stamp.read_text().strip()
        if made_by == "tessera" or not tessera.available:
            return made_by
    if tessera.available:
        try:
            tessera.generate(f)
            if f.path.stat().st_size != f.nbytes:
                raise RuntimeError(f"{f.path}: {f.path.stat().st_size} bytes, expected {f.nbytes}")
            stamp.write_text("tessera\n")
            return "tessera"
        except Exception as e:
            if not allow_numpy_data:
                raise
            log(f"tessera generate failed ({e}); writing NumPy test data instead")
    elif not allow_numpy_data:
        raise RuntimeError("no tessera binary to generate data (use --numpy-data to test the "
                           "NumPy and LiberTEM halves alone)")
    log(f"writing {f.path} ({f.nbytes / 2**20:.0f} MiB) with NumPy")
    rng = np.random.default_rng(0)
    out = np.memmap(f.path, dtype=f.dtype, mode="w+", shape=(f.frames, f.sig[0] * f.sig[1]))
    for begin in range(0, f.frames, 256):
        end = min(begin + 256, f.frames)
        out[begin:end] = rng.poisson(20.0, size=(end - begin, out.shape[1])).astype(f.dtype)
    out.flush()
    del out
    stamp.write_text("numpy\n")
    return "numpy"


def git_revision() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="256 MiB files: a quick check")
    parser.add_argument("--tessera", type=Path, default=REPO / "build/release/apps/cli/tessera")
    parser.add_argument("--probe", type=Path, required=True, help="compiled bench/membw.cc")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/tessera-bench"))
    parser.add_argument("--repeats", type=int, default=3, help="best of N timings per tool")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--libertem", default="auto",
                        help="LiberTEM executor: auto (try all, keep the fastest), threads, "
                             "inline, dask, pipelined, or off")
    parser.add_argument("--numpy-data", action="store_true",
                        help="write random test data with NumPy when tessera cannot generate it")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()

    probe = Probe(args.probe)
    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        log(f"WARNING: load average {load_start:.1f}: something else is running; the figures "
            f"will be low and noisy")
    tessera = Tessera(args.tessera if args.tessera.is_file() and os.access(args.tessera, os.X_OK)
                      else None)
    if not tessera.available:
        log(f"tessera binary {args.tessera} not found: Tessera columns will read n/a")
    files = data_files(args.data_dir, args.small)
    cases = CASES
    if args.cases:
        wanted = {c.strip() for c in args.cases.split(",")}
        cases = [c for c in CASES if c.name in wanted]

    made_by = {}
    for key in sorted({c.file for c in cases}):
        made_by[key] = ensure_file(files[key], tessera, args.numpy_data)

    log("measuring memory-read bandwidth (2 GiB, 2 threads, best of 5)")
    membw = probe.memory_gbps(2.0)
    page_cache = {}
    for key in sorted(made_by):
        page_cache[key] = probe.page_cache_gbps(files[key].path)

    libertem = LiberTEM(args.libertem) if args.libertem != "off" else None
    if libertem is not None and not libertem.available:
        log(f"libertem unavailable: {libertem.error}")

    rows = []
    for case in cases:
        f = files[case.file]
        warm = lambda f=f: probe.warm(f.path)  # noqa: E731
        row = {"case": case.name, "file": str(f.path), "bytes": f.nbytes, "frames": f.frames,
               "dtype": f.dtype, "target": case.target, "errors": {}}
        log(f"== {case.name}")

        if tessera.available:
            try:
                cmd = tessera.command(case, f)
                row["tessera_command"] = shlex.join(cmd)
                elapsed, wall, mapped = float("inf"), float("inf"), float("inf")
                for _ in range(args.repeats):
                    warm()
                    e, w, report = tessera.run(case, f)
                    # The process ran --repeat passes: a fresh process's wall clock is the whole
                    # run less the later passes.
                    w -= sum(float(x) for x in report.get("elapsed_runs_s", [])[1:])
                    elapsed, wall = min(elapsed, e), min(wall, w)
                    mapped = min(mapped, float(report.get("elapsed_best_s", e)))
                row["tessera_s"], row["tessera_fresh_s"] = elapsed, wall
                row["tessera_mapped_s"] = mapped
                row["tessera_report"] = {k: report[k] for k in
                                         ("elapsed_s", "gbps", "executor", "threads", "frames")
                                         if k in report}
            except Exception as e:
                row["errors"]["tessera"] = str(e)
                log(f"tessera: {e}")
        if case.analysis != "noop":
            try:
                row["numpy_s"] = best_of(args.repeats, warm, lambda: run_numpy(case, f))
            except Exception as e:
                row["errors"]["numpy"] = str(e)
                log(f"numpy: {e}")
        if libertem is not None and libertem.available:
            try:
                if libertem.ctx is None:
                    libertem.choose_executor(case, f, warm)
                if libertem.ctx is not None:
                    row["libertem_s"] = best_of(args.repeats, warm, lambda: libertem.run(case, f))
            except Exception as e:
                row["errors"]["libertem"] = f"{type(e).__name__}: {e}"
                log(f"libertem: {e}")
                log(traceback.format_exc(limit=2))

        for tool in ("tessera", "tessera_fresh", "tessera_mapped", "numpy", "libertem"):
            seconds = row.get(f"{tool}_s")
            row[f"{tool}_gbps"] = f.nbytes / seconds / 1e9 if seconds else None
            row[f"{tool}_us_per_frame"] = seconds / f.frames * 1e6 if seconds else None
        t, n, lt = row["tessera_gbps"], row["numpy_gbps"], row["libertem_gbps"]
        row["ratio_tessera_numpy"] = t / n if t and n else None
        row["ratio_tessera_libertem"] = t / lt if t and lt else None
        rows.append(row)
        log(f"   tessera {fmt_num(t, 2)} GB/s (fresh process {fmt_num(row['tessera_fresh_gbps'], 2)})"
            f", numpy {fmt_num(n, 2)}, libertem {fmt_num(lt, 2)}")

    if libertem is not None:
        libertem.close()
    # Again at the end: a ceiling measured while something else ran would flatter every ratio.
    membw_samples = [membw, probe.memory_gbps(2.0)]
    membw = max(membw_samples)

    # ------------------------------------------------------------------ report
    header = (f"{'case':<14} {'tessera':>8} {'mapped':>8} {'fresh':>8} {'numpy':>8} {'libertem':>9} "
              f"{'t/numpy':>8} {'t/libertem':>10} {'mapped/membw':>12}  target (GB/s)")
    lines = [header, "-" * len(header)]
    for row in rows:
        if row["case"].startswith("noop"):
            continue
        lines.append(
            f"{row['case']:<14} {fmt_num(row['tessera_gbps']):>8} "
            f"{fmt_num(row['tessera_mapped_gbps']):>8} "
            f"{fmt_num(row['tessera_fresh_gbps']):>8} {fmt_num(row['numpy_gbps']):>8} "
            f"{fmt_num(row['libertem_gbps']):>9} {fmt_num(row['ratio_tessera_numpy'], 2):>8} "
            f"{fmt_num(row['ratio_tessera_libertem'], 2):>10} "
            f"{fmt_num(row['tessera_mapped_gbps'] / membw if row['tessera_mapped_gbps'] else None, 2):>12}"
            f"  {row['target']}")
    for row in rows:
        if row["case"].startswith("noop"):
            lines.append(
                f"framework overhead per frame (no-op analysis, {row['frames']} frames): "
                f"tessera {fmt_num(row['tessera_us_per_frame'], 3)} us "
                f"(mapped {fmt_num(row['tessera_mapped_us_per_frame'], 3)} us) "
                f"(fresh process {fmt_num(row['tessera_fresh_us_per_frame'], 3)} us), "
                f"libertem {fmt_num(row['libertem_us_per_frame'], 3)} us; target <= 0.3 us")
    lines.append(f"memory-read bandwidth, {THREADS} threads: {membw:.1f} GB/s (best of start "
                 f"{membw_samples[0]:.1f} and end {membw_samples[1]:.1f}; if they differ much, "
                 f"the machine was busy)")
    for key, gbps in sorted(page_cache.items()):
        lines.append(f"page-cache read bandwidth, {THREADS} threads, {files[key].path.name}: "
                     f"{gbps:.1f} GB/s")
    lines.append("tessera = processing time of the first pass as the CLI reports it (elapsed_s: file "
                 "opened and mapped, page tables populated during the run); mapped = best later pass "
                 "in the same process (--repeat 3: what a server or notebook keeping the file mapped "
                 "sees); fresh = whole process wall clock; GB/s = file bytes per second, data in the "
                 "page cache. A virtual detector reads only the detector rows its masks touch.")
    if libertem is not None:
        if libertem.available and libertem.executor:
            tried = ", ".join(f"{k} {v:.1f} GB/s" for k, v in libertem.tried.items())
            lines.append(f"libertem {libertem.version}, executor {libertem.executor!r} "
                         f"(fastest of those tried on the first case: {tried})")
        else:
            lines.append(f"libertem: n/a ({libertem.error})")
    if any(v != "tessera" for v in made_by.values()):
        lines.append("NOTE: data written with NumPy (random Poisson), not `tessera generate`.")
    load_end = os.getloadavg()[0]  # includes this benchmark's own threads: recorded, not judged
    if load_start > 0.5:
        lines.append(f"WARNING: the machine was busy when the run started (load average "
                     f"{load_start:.1f}): these figures are low and noisy.")
    errors = [(r["case"], tool, msg) for r in rows for tool, msg in r["errors"].items()]
    for case_name, tool, msg in errors:
        lines.append(f"n/a: {case_name} / {tool}: {msg}")
    print("\n".join(lines))

    now = dt.datetime.now()
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out_path = args.results_dir / (now.strftime("%Y-%m-%d_%H%M%S") + ("-small" if args.small else "")
                                   + ".json")
    report = {
        "date": now.isoformat(timespec="seconds"),
        "mode": "small" if args.small else "full",
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "kernel": platform.release(),
                    "threads_used": THREADS},
        "git": git_revision(),
        "tessera_version": tessera.version,
        "numpy_version": np.__version__,
        "libertem_version": libertem.version if libertem else None,
        "libertem_executor": libertem.executor if libertem else None,
        "libertem_executors_tried_gbps": libertem.tried if libertem else None,
        "data_made_by": made_by,
        "load_average": [load_start, load_end],
        "membw_gbps": membw,
        "membw_samples_gbps": membw_samples,
        "page_cache_gbps": page_cache,
        "cases": rows,
    }
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {out_path.relative_to(REPO) if out_path.is_relative_to(REPO) else out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
