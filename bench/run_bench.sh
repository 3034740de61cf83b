#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One run of the end-to-end benchmark: Tessera vs NumPy vs LiberTEM, plus memory and page-cache
# bandwidth. Builds what it needs; every part that cannot run reads "n/a" and the run goes on.
#   bench/run_bench.sh [--small] [bench.py options]   (--help lists them)
#   bench/run_bench.sh --pipeline [pipeline_bench.py options]: a reduce operator inside a pipeline
#     vs `tessera run` on the same 1 GiB file (bench/results/<date>-pipeline.json)
#   bench/run_bench.sh --formats [formats_bench.py options]: the format-reading benchmark instead
#     (MIB, chunked HDF5, DM4 and 1-bit RAW MIB files of ~2 GiB in a temp dir; page cache vs
#     Tessera vs NumPy/h5py; results in bench/results/<date>-formats.json).
# Full mode writes a 4 GiB float32 and a 1 GiB uint16 file to /tmp/tessera-bench (reused when
# present); --small uses 256 MiB files. Results: a table on stdout and bench/results/<date>.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_dir=bench
venv="${bench_dir}/.venv"
data_dir="${TESSERA_BENCH_DIR:-/tmp/tessera-bench}"
tessera="${TESSERA_BIN:-build/release/apps/cli/tessera}"
formats=0
pipeline=0
if [[ "${1:-}" == "--formats" ]]; then
  formats=1
  shift
elif [[ "${1:-}" == "--pipeline" ]]; then
  pipeline=1
  shift
fi
mkdir -p "${data_dir}"

# (a) Tessera, Release build of the CLI (configured once; ninja makes a no-op build cheap).
if [[ "${TESSERA_BENCH_NO_BUILD:-0}" != 1 ]]; then
  if [[ ! -f build/release/build.ninja ]]; then
    tools/install-deps.sh
    cmake --preset release >/dev/null
  fi
  if ! nice -n 10 cmake --build --preset release --target tessera; then
    echo "bench: release build failed; Tessera columns will read n/a" >&2
  fi
fi

# Python environment with NumPy and LiberTEM. LiberTEM is optional: without it, its column is n/a.
python="${PYTHON:-python3}"
if [[ ! -x "${venv}/bin/python" ]]; then
  "${python}" -m venv "${venv}"
fi
if ! "${venv}/bin/python" -c 'import numpy, libertem, h5py' 2>/dev/null; then
  "${venv}/bin/pip" install -q --disable-pip-version-check -r "${bench_dir}/requirements.txt" ||
    { echo "bench: LiberTEM could not be installed; its column will read n/a" >&2;
      "${venv}/bin/pip" install -q --disable-pip-version-check $(grep -E '^(numpy|h5py)' "${bench_dir}/requirements.txt"); }
fi

# (c) The bandwidth probe.
probe="${data_dir}/membw"
if [[ ! -x "${probe}" || "${bench_dir}/membw.cc" -nt "${probe}" ]]; then
  g++ -O3 -march=native -fopenmp-simd -pthread -o "${probe}" "${bench_dir}/membw.cc"  # a ceiling: use every vector unit
fi

if [[ "${pipeline}" == 1 ]]; then
  exec "${venv}/bin/python" "${bench_dir}/pipeline_bench.py" --tessera "${tessera}" --data-dir "${data_dir}" "$@"
fi
if [[ "${formats}" == 1 ]]; then
  exec "${venv}/bin/python" "${bench_dir}/formats_bench.py" --probe "${probe}" --tessera "${tessera}" "$@"
fi

# (b), (d): generate the data, time every case, print and save the table.
exec "${venv}/bin/python" "${bench_dir}/bench.py" --probe "${probe}" --tessera "${tessera}" \
  --data-dir "${data_dir}" "$@"
