# SPDX-License-Identifier: MIT
"""Format-reading benchmark: how fast Tessera reads each detector file format, against the
page cache and against NumPy / h5py reading the same file, in one run.

Run through `bench/run_bench.sh --formats` (builds Tessera, prepares bench/.venv, compiles the
bandwidth probe), or directly:
  bench/.venv/bin/python bench/formats_bench.py --probe PROBE [--tessera BIN] [--gib 2]

One run writes, in a temporary directory (removed at the end unless --keep):
  * mib   Merlin MIB, U16 frames of 256 x 256 with 384-byte ASCII headers (+ .hdr with the scan),
  * h5    HDF5 4-D uint16 (ny, nx, 256, 256), chunked (1, 4, 256, 256), uncompressed (h5py),
  * dm4   DigitalMicrograph 4 file, 4-D uint16 (written by the small DM4 writer below, following
          the tag layout of docs/formats/dm.md),
  * mib-raw1  Merlin RAW-mode (R64) 1-bit frames, when `tessera info` can open such a file
          (the RAW decoder is optional; otherwise the row reads n/a with the reader's message),
and for each measures
  * page cache: the file read once, then read with 256 KiB pread()s by 2 threads (best of 3),
  * tessera: `tessera run frame-sum FILE --repeat N --json`, best of --repeats processes, the file
    read once before each; "first" = the first pass of a process (elapsed_s: opens, maps and reads
    the file), "best" = the best later pass over the still-mapped file (elapsed_best_s),
  * numpy (MIB, DM4): np.memmap with the header skip / frame stride, per-frame sums over the
    signal in 64-frame chunks on 2 threads; h5py (HDF5): read_direct of one scan row at a time,
    then the same sums; for RAW 1-bit, NumPy decodes the packed 64-bit words to pixels
    (byte-reversed words + unpackbits) before summing, as the reader does. All compute exactly
    what `frame-sum` computes, and the run checks that their mean/min/max agree with Tessera's.
GB/s = file bytes / seconds (GB = 1e9), data in the page cache. Ratios: tessera / page cache and
tessera / numpy-or-h5py, from this one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
THREADS = 2
CHUNK = 64
SIG = (256, 256)
MIB_HEADER = 384


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Test data: one pattern for every format. Frame f = base[f % 64] + (f // 64) % 7, where base is
# 64 Poisson(20) frames: cheap to write at GB/s, frame sums differ from frame to frame.


def frame_block(begin: int, end: int, base: np.ndarray) -> np.ndarray:
    idx = np.arange(begin, end)
    return base[idx % len(base)] + ((idx // len(base)) % 7).astype(np.uint16)[:, None, None]


def make_base() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.poisson(20.0, size=(64, *SIG)).astype(np.uint16)


def mib_frame_header(seq: int, ptype: str, depth: int) -> bytes:
    text = ("MQ1,{:06d},{:05d},01,{:04d},{:04d},{},   1x1,01,2024-01-01 00:00:00.000000,"
            "0.001000,0,0,0,2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,"
            "0.000000E+0,0.000000E+0,0.000000E+0,3RX,011,511,000,175,MQ1A,"
            "2024-01-01T00:00:00.000000000Z,1000000ns,{},").format(
                seq, MIB_HEADER, SIG[1], SIG[0], ptype, depth)
    return text.encode().ljust(MIB_HEADER, b"\0")


def write_hdr(path: Path, frames: int, nav: tuple[int, int], depth: int) -> None:
    path.write_text("HDR,\nCounter Depth (number):\t{}\nFrames in Acquisition (Number):\t{}\n"
                    "Frames per Trigger (Number):\t{}\nScanX:\t{}\nScanY:\t{}\nEnd\t\n".format(
                        depth, frames, nav[1], nav[1], nav[0]))


def write_mib(path: Path, nav: tuple[int, int], base: np.ndarray) -> None:
    frames = nav[0] * nav[1]
    dtype = np.dtype([("h", f"S{MIB_HEADER}"), ("d", ">u2", SIG)])
    with open(path, "wb") as out:
        for begin in range(0, frames, 256):
            end = min(begin + 256, frames)
            block = np.empty(end - begin, dtype)
            block["h"] = [mib_frame_header(f + 1, "U16", 12) for f in range(begin, end)]
            block["d"] = frame_block(begin, end, base)
            block.tofile(out)
    write_hdr(path.with_suffix(".hdr"), frames, nav, 12)


def write_mib_raw1(path: Path, nav: tuple[int, int]) -> None:
    """1-bit RAW frames: 256 x 256 bits = 8192 bytes each, packed in big-endian 64-bit words. The
    frame sum is the number of set bits whatever the pixel order, so the check that NumPy and
    Tessera agree does not depend on the chip layout."""
    frames = nav[0] * nav[1]
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, size=(64, SIG[0] * SIG[1] // 8), dtype=np.uint8)
    # Sparse-ish counts: keep about a quarter of the bits.
    base &= rng.integers(0, 256, size=base.shape, dtype=np.uint8)
    dtype = np.dtype([("h", f"S{MIB_HEADER}"), ("d", np.uint8, SIG[0] * SIG[1] // 8)])
    with open(path, "wb") as out:
        for begin in range(0, frames, 1024):
            end = min(begin + 1024, frames)
            block = np.empty(end - begin, dtype)
            block["h"] = [mib_frame_header(f + 1, "R64", 1) for f in range(begin, end)]
            idx = np.arange(begin, end)
            block["d"] = base[idx % 64] ^ ((idx // 64) % 2 * 0x10).astype(np.uint8)[:, None]
            block.tofile(out)
    write_hdr(path.with_suffix(".hdr"), frames, nav, 1)


def write_h5(path: Path, nav: tuple[int, int], base: np.ndarray) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", shape=(*nav, *SIG), dtype="<u2", chunks=(1, 4, *SIG))
        for y in range(nav[0]):
            ds[y] = frame_block(y * nav[1], (y + 1) * nav[1], base)


class Dm4:
    """Minimal DM4 writer (docs/formats/dm.md): big-endian tag headers, little-endian data. A tree
    node serialises to a list of parts (bytes, or an int: that many payload bytes streamed later),
    so DM4's 8-byte tag sizes are exact without holding the payload in memory."""

    @staticmethod
    def size(parts) -> int:
        return sum(p if isinstance(p, int) else len(p) for p in parts)

    @staticmethod
    def be(v: int, n: int) -> bytes:
        return v.to_bytes(n, "big")

    def tag(self, kind: int, label: str, body: list) -> list:
        lab = label.encode()
        return [bytes([kind]) + self.be(len(lab), 2) + lab + self.be(self.size(body), 8), *body]

    def group(self, label: str, tags: list[list]) -> list:
        return self.tag(20, label, [b"\0\1" + self.be(len(tags), 8)] + [p for t in tags for p in t])

    def data(self, label: str, info: list[int], payload) -> list:
        head = b"%%%%" + self.be(len(info), 8) + b"".join(self.be(i, 8) for i in info)
        return self.tag(21, label, [head, payload])

    def long(self, label: str, v: int) -> list:
        return self.data(label, [3], v.to_bytes(4, "little", signed=True))

    def flt(self, label: str, v: float) -> list:
        return self.data(label, [6], np.float32(v).tobytes())

    def text(self, label: str, t: str) -> list:
        return self.data(label, [20, 4, len(t)], t.encode("utf-16-le"))

    def write(self, path: Path, nav: tuple[int, int], base: np.ndarray) -> int:
        """Write a 4-D uint16 image; return the file offset of the pixel data."""
        frames = nav[0] * nav[1]
        elements = frames * SIG[0] * SIG[1]
        dims = [SIG[1], SIG[0], nav[1], nav[0]]  # fastest first
        units = ["1/nm", "1/nm", "nm", "nm"]
        cal = self.group("Dimension", [self.group("", [self.flt("Origin", 0.0),
                                                       self.flt("Scale", 0.5),
                                                       self.text("Units", u)]) for u in units])
        image = self.group("", [
            self.group("ImageData", [
                self.group("Calibrations", [self.group("Brightness", [
                    self.flt("Origin", 0.0), self.flt("Scale", 1.0), self.text("Units", "")]),
                    cal]),
                self.data("Data", [20, 4, elements], elements * 2),
                self.long("DataType", 10),
                self.group("Dimensions", [self.long("", d) for d in dims]),
            ]),
            self.group("ImageTags", [self.group("Meta Data", [self.text("Format", "Diffraction image")])]),
            self.text("Name", "bench 4D"),
        ])
        root_tags = [self.group("ImageList", [image])]
        root = [b"\0\1" + self.be(len(root_tags), 8)] + [p for t in root_tags for p in t]
        parts = [self.be(4, 4) + self.be(self.size(root), 8) + self.be(1, 4), *root, b"\0" * 8]
        offset = None
        with open(path, "wb") as out:
            for p in parts:
                if isinstance(p, int):
                    offset = out.tell()
                    for begin in range(0, frames, 256):
                        frame_block(begin, min(begin + 256, frames), base).astype("<u2").tofile(out)
                else:
                    out.write(p)
        assert offset is not None
        return offset


# ---------------------------------------------------------------------------------------------
# Baselines: per-frame sums over the signal, exactly `tessera run frame-sum`.


def sums_stats(sums: np.ndarray) -> dict:
    return {"mean": float(sums.mean()), "min": float(sums.min()), "max": float(sums.max())}


def numpy_frame_sums(frames_view) -> np.ndarray:
    """frames_view: an (n, ...) array-like (memmap or view); chunks of 64 frames on 2 threads."""
    n = frames_view.shape[0]
    bounds = [(b, min(b + CHUNK, n)) for b in range(0, n, CHUNK)]

    def part(b):
        chunk = frames_view[b[0]:b[1]]
        return chunk.reshape(chunk.shape[0], -1).sum(axis=1, dtype=np.uint64)

    with ThreadPoolExecutor(THREADS) as pool:
        return np.concatenate(list(pool.map(part, bounds)))


def numpy_mib(path: Path, frames: int) -> np.ndarray:
    dtype = np.dtype([("h", f"S{MIB_HEADER}"), ("d", ">u2", SIG)])
    mm = np.memmap(path, dtype=dtype, mode="r", shape=(frames,))
    return numpy_frame_sums(mm["d"])


def numpy_mib_raw1(path: Path, frames: int) -> np.ndarray:
    nbytes = SIG[0] * SIG[1] // 8
    dtype = np.dtype([("h", f"S{MIB_HEADER}"), ("d", np.uint8, nbytes)])
    mm = np.memmap(path, dtype=dtype, mode="r", shape=(frames,))
    data = mm["d"]
    bounds = [(b, min(b + 1024, frames)) for b in range(0, frames, 1024)]

    def part(b):
        # Decode as the reader does (docs/formats/mib.md): big-endian 64-bit words, pixel i of a
        # word in bit i. Reversing each word's bytes makes it little-endian, after which
        # unpackbits(bitorder="little") yields the pixels in order; then sum each frame.
        raw = np.ascontiguousarray(data[b[0]:b[1]]).reshape(b[1] - b[0], -1, 8)[:, :, ::-1]
        pixels = np.unpackbits(raw.reshape(b[1] - b[0], -1), axis=1, bitorder="little")
        return pixels.sum(axis=1, dtype=np.uint64)

    with ThreadPoolExecutor(THREADS) as pool:
        return np.concatenate(list(pool.map(part, bounds)))


def numpy_dm4(path: Path, frames: int, offset: int) -> np.ndarray:
    mm = np.memmap(path, dtype="<u2", mode="r", offset=offset, shape=(frames, *SIG))
    return numpy_frame_sums(mm)


def h5py_sums(path: Path, nav: tuple[int, int]) -> np.ndarray:
    import h5py

    out = np.empty(nav, np.uint64)
    with h5py.File(path, "r") as f:
        ds = f["data"]
        row = np.empty((nav[1], *SIG), ds.dtype)
        for y in range(nav[0]):
            ds.read_direct(row, np.s_[y])
            out[y] = row.reshape(nav[1], -1).sum(axis=1, dtype=np.uint64)
    return out.ravel()


# ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    key: str
    path: Path
    open_path: str  # what tessera is given
    frames: int
    baseline: str  # "numpy" or "h5py"
    run_baseline: object  # () -> frame sums
    note: str = ""
    results: dict = field(default_factory=dict)


def probe(binary: Path, *args) -> dict:
    out = subprocess.run([str(binary), *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def tessera_run(binary: Path, target: str, repeat: int) -> dict:
    cmd = [str(binary), "run", "frame-sum", target, "--repeat", str(repeat), "--json", "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"exit {out.returncode}: {tail[0]}")
    text = out.stdout.strip()
    return json.loads(text[text.index("{"):])


def fmt(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tessera", type=Path, default=REPO / "build/release/apps/cli/tessera")
    parser.add_argument("--probe", type=Path, required=True, help="compiled bench/membw.cc")
    parser.add_argument("--gib", type=float, default=2.0,
                        help="approximate size of each uint16 file in GiB (default 2)")
    parser.add_argument("--raw-gib", type=float, default=0.5,
                        help="approximate size of the 1-bit RAW MIB file in GiB (default 0.5)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N timings per tool")
    parser.add_argument("--tessera-repeat", type=int, default=3, help="tessera --repeat")
    parser.add_argument("--formats", default="mib,h5,dm4,mib-raw1")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()
    wanted = [f.strip() for f in args.formats.split(",") if f.strip()]

    # Scan: square-ish, 256 x 256 uint16 frames (128 KiB each).
    frames_wanted = max(4, int(args.gib * 2**30 / (SIG[0] * SIG[1] * 2)))
    ny = max(2, int(round(frames_wanted ** 0.5)))
    nav = (ny, max(2, frames_wanted // ny))
    frames = nav[0] * nav[1]
    raw_frames = max(4, int(args.raw_gib * 2**30 / (MIB_HEADER + SIG[0] * SIG[1] // 8)))
    raw_ny = max(2, int(round(raw_frames ** 0.5)))
    raw_nav = (raw_ny, max(2, raw_frames // raw_ny))
    raw_frames = raw_nav[0] * raw_nav[1]

    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        log(f"WARNING: load average {load_start:.1f}: other work is running; figures will be noisy")
    tmp = Path(tempfile.mkdtemp(prefix="tessera-formats-bench-", dir=args.tmp))
    log(f"data in {tmp}; scan {nav[0]}x{nav[1]} of {SIG[0]}x{SIG[1]} uint16")
    base = make_base()
    cases: list[Case] = []
    try:
        t0 = time.perf_counter()
        if "mib" in wanted:
            p = tmp / "scan.mib"
            write_mib(p, nav, base)
            cases.append(Case("mib", p, str(p), frames, "numpy", lambda p=p: numpy_mib(p, frames),
                              "Merlin U16, big-endian, 384-byte frame headers"))
        if "h5" in wanted:
            p = tmp / "scan.h5"
            write_h5(p, nav, base)
            cases.append(Case("h5", p, f"{p}:/data", frames, "h5py",
                              lambda p=p: h5py_sums(p, nav),
                              "HDF5 chunks (1,4,256,256), uncompressed"))
        if "dm4" in wanted:
            p = tmp / "scan.dm4"
            offset = Dm4().write(p, nav, base)
            cases.append(Case("dm4", p, str(p), frames, "numpy",
                              lambda p=p, o=offset: numpy_dm4(p, frames, o),
                              f"DM4 4-D uint16, data at offset {offset}"
                              f" ({'8-byte aligned' if offset % 8 == 0 else 'unaligned'})"))
        if "mib-raw1" in wanted:
            p = tmp / "raw1.mib"
            write_mib_raw1(p, raw_nav)
            cases.append(Case("mib-raw1", p, str(p), raw_frames, "numpy",
                              lambda p=p: numpy_mib_raw1(p, raw_frames),
                              f"Merlin RAW 1-bit (R64), scan {raw_nav[0]}x{raw_nav[1]}"))
        log(f"wrote {len(cases)} files in {time.perf_counter() - t0:.0f} s")

        for case in cases:
            r = case.results
            r["bytes"] = case.path.stat().st_size
            r["frames"] = case.frames
            log(f"== {case.key}: {r['bytes'] / 1e9:.2f} GB")
            r["page_cache_gbps"] = probe(args.probe, "file", case.path, THREADS)["gb_per_s"]
            warm = lambda: probe(args.probe, "warm", case.path, THREADS)  # noqa: E731
            # Tessera
            try:
                first, best, report = float("inf"), float("inf"), {}
                for _ in range(args.repeats):
                    warm()
                    report = tessera_run(args.tessera, case.open_path, args.tessera_repeat)
                    first = min(first, float(report["elapsed_s"]))
                    best = min(best, float(report["elapsed_best_s"]))
                r["tessera_first_s"], r["tessera_best_s"] = first, best
                r["tessera_result"] = report["results"]["frame-sum"][0]
                r["tessera_input"] = {k: report["input"][k] for k in ("format", "shape", "dtype")
                                      if k in report.get("input", {})}
            except Exception as e:  # the reader may not support the file (RAW before its decoder)
                r["tessera_error"] = str(e)
                log(f"tessera: {e}")
            # Baseline
            try:
                seconds, sums = float("inf"), None
                for _ in range(args.repeats):
                    warm()
                    begin = time.perf_counter()
                    sums = case.run_baseline()
                    seconds = min(seconds, time.perf_counter() - begin)
                r["baseline"] = case.baseline
                r["baseline_s"] = seconds
                r["baseline_result"] = sums_stats(np.asarray(sums, dtype=np.float64))
            except Exception as e:
                r["baseline_error"] = f"{type(e).__name__}: {e}"
                log(f"{case.baseline}: {e}")
            # Same answer?
            if "tessera_result" in r and "baseline_result" in r:
                t, b = r["tessera_result"], r["baseline_result"]
                r["results_agree"] = all(
                    abs(float(t[k]) - b[k]) <= 1e-6 * max(1.0, abs(b[k])) for k in ("mean", "min", "max"))
            nbytes = r["bytes"]
            for k in ("tessera_first", "tessera_best", "baseline"):
                s = r.get(f"{k}_s")
                r[f"{k}_gbps"] = nbytes / s / 1e9 if s else None
            pc = r["page_cache_gbps"]
            tf, tb, bl = r["tessera_first_gbps"], r["tessera_best_gbps"], r["baseline_gbps"]
            r["ratio_first_page_cache"] = tf / pc if tf and pc else None
            r["ratio_best_page_cache"] = tb / pc if tb and pc else None
            r["ratio_first_baseline"] = tf / bl if tf and bl else None
            log(f"   page cache {fmt(pc)} GB/s, tessera {fmt(tf)} (best pass {fmt(tb)}), "
                f"{case.baseline} {fmt(bl)}, agree {r.get('results_agree')}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    header = (f"{'format':<9} {'GB':>5} {'pagecache':>9} {'tessera':>8} {'t.best':>7} "
              f"{'baseline':>14} {'t/pc':>6} {'t.best/pc':>9} {'t/base':>7} {'same':>5}")
    lines = [header, "-" * len(header)]
    for c in cases:
        r = c.results
        base = f"{c.baseline} {fmt(r.get('baseline_gbps'))}"
        lines.append(f"{c.key:<9} {r['bytes'] / 1e9:>5.2f} {fmt(r['page_cache_gbps']):>9} "
                     f"{fmt(r.get('tessera_first_gbps')):>8} {fmt(r.get('tessera_best_gbps')):>7} "
                     f"{base:>14} {fmt(r.get('ratio_first_page_cache')):>6} "
                     f"{fmt(r.get('ratio_best_page_cache')):>9} "
                     f"{fmt(r.get('ratio_first_baseline')):>7} "
                     f"{str(r.get('results_agree', 'n/a')):>5}")
    for c in cases:
        lines.append(f"{c.key}: {c.note}")
        for k in ("tessera_error", "baseline_error"):
            if k in c.results:
                lines.append(f"  n/a {k.split('_')[0]}: {c.results[k]}")
    lines.append("GB/s = file bytes / s, file in the page cache, 2 threads. tessera = first pass of "
                 "`tessera run frame-sum --json` (opens, maps, reads); t.best = best later pass "
                 "over the still-mapped file; pagecache = 256 KiB pread()s, 2 threads, best of 3; "
                 "same = frame sums (mean/min/max) of Tessera and the baseline agree. Target: "
                 "t/pc >= 0.70 for uncompressed formats.")
    load_end = os.getloadavg()[0]
    if load_start > 0.5:
        lines.append(f"WARNING: load average {load_start:.1f} at the start: the machine was busy.")
    print("\n".join(lines))

    now = dt.datetime.now()
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out_path = args.results_dir / (now.strftime("%Y-%m-%d_%H%M%S") + "-formats.json")
    try:
        git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        git = None
    report = {
        "date": now.isoformat(timespec="seconds"),
        "kind": "formats",
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(), "threads_used": THREADS},
        "git": git,
        "numpy_version": np.__version__,
        "h5py_version": __import__("h5py").__version__,
        "scan": list(nav), "sig": list(SIG), "raw_scan": list(raw_nav),
        "load_average": [load_start, load_end],
        "cases": {c.key: {"note": c.note, **c.results} for c in cases},
    }
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
