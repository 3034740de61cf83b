#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MPI on one machine, in one run:
#  - the virtual-detector benchmark as 1 process x 2 threads and as 2 ranks x 1 thread, same file;
#  - rank 0's merge time of a 256x256 float64 sig buffer across 2 and 3 ranks, and the engine's
#    cost per partition under MPI (build/release/src/tessera/exec/tessera-mpi-merge-benchmark).
# Usage: bench/mpi_bench.sh [--gib N]   (default 2 GiB of float32 frames; needs `make release`)
set -euo pipefail
cd "$(dirname "$0")/.."
GIB=2
if [[ "${1:-}" == "--gib" ]]; then GIB="$2"; fi
BUILD=build/release
T="$BUILD/apps/cli/tessera"
MERGE="$BUILD/src/tessera/exec/tessera-mpi-merge-benchmark"
[[ -x "$T" && -x "$MERGE" ]] || cmake --build "$BUILD" --target tessera tessera-mpi-merge-benchmark
MPIRUN=(mpiexec --allow-run-as-root --oversubscribe)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-mpi-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

SCAN_ROWS=$((GIB * 32))
DATA="$WORK/scan.npy"
"$T" generate 4dstem "$DATA" --scan "${SCAN_ROWS}x128" --frame 256x256 --seed 1 > /dev/null
cat "$DATA" > /dev/null   # into the page cache once, before any timing
VD=(run virtual-detector "$DATA" --param shape=ring --param ri=30 --param ro=90 --repeat 4 -q --json)

threads=$("$T" "${VD[@]}" --threads 2)
ranks=$("${MPIRUN[@]}" --bind-to core -n 2 "$T" "${VD[@]}" --threads 1)
merge2=$("${MPIRUN[@]}" --bind-to none -n 2 "$MERGE")
merge3=$("${MPIRUN[@]}" --bind-to none -n 3 "$MERGE")

mkdir -p bench/results
OUT="bench/results/$(date -u +%Y-%m-%d_%H%M%S)-mpi.json"
python3 - "$OUT" "$threads" "$ranks" "$merge2" "$merge3" <<'PY'
import json, platform, sys
out, threads, ranks, m2, m3 = sys.argv[1], *map(json.loads, sys.argv[2:])
gb = threads["bytes"] / 1e9
res = {
    "host": platform.node(),
    "data_gb": gb,
    "vd_1proc_2threads_gbps_best": threads["gbps_best"],
    "vd_2ranks_1thread_gbps_best": ranks["gbps_best"],
    "ratio_2ranks_over_2threads": ranks["gbps_best"] / threads["gbps_best"],
    "vd_2ranks_rank0": ranks.get("mpi", {}),
    "merge_256x256_f64_s": {"2": m2["merge_256x256_f64_s"], "3": m3["merge_256x256_f64_s"]},
    "per_partition_s": {"2": m2["per_partition_s"], "3": m3["per_partition_s"]},
}
json.dump(res, open(out, "w"), indent=2)
print(f"virtual-detector ring, {gb:.2f} GB float32, page cache, best of 4:")
print(f"  1 process x 2 threads  {threads['gbps_best']:6.2f} GB/s")
print(f"  2 ranks x 1 thread     {ranks['gbps_best']:6.2f} GB/s   ratio {res['ratio_2ranks_over_2threads']:.3f}")
for n, m in (("2", m2), ("3", m3)):
    print(f"  {n} ranks: merge of a 256x256 float64 buffer {m['merge_256x256_f64_s']*1e6:8.1f} us,"
          f" per partition {m['per_partition_s']*1e6:6.1f} us")
print(f"written {out}")
PY
