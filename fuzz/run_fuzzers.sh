#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run libFuzzer targets one after another, each for SECONDS, at the lowest CPU priority, and print
# one summary line per target (runs, coverage, corpus, findings).
#   fuzz/run_fuzzers.sh [-d BUILD_DIR] [-s SECONDS] [-w WORK_DIR] [TARGET...]
# Defaults: build/fuzz, 600 s, /tmp/tessera-fuzz-work, every target of fuzz/CMakeLists.txt.
# New inputs go to WORK_DIR/corpus/<target> (the committed corpus/<target> is read only); crashes,
# timeouts and huge allocations go to fuzz/findings/<target>/ (see fuzz/README.md for what to do
# with them); logs to WORK_DIR/<target>.log. Extra libFuzzer flags: TESSERA_FUZZ_FLAGS (e.g.
# "-fork=1 -ignore_crashes=1" to go on after a finding that is not fixed yet).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build/fuzz
seconds=600
work=/tmp/tessera-fuzz-work
while getopts "d:s:w:" opt; do
  case "${opt}" in
    d) build="${OPTARG}" ;;
    s) seconds="${OPTARG}" ;;
    w) work="${OPTARG}" ;;
    *) sed -n 3,9p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  read -r -a targets <<<"$(sed -n 's/^foreach(target \(.*\))$/\1/p' fuzz/CMakeLists.txt)"
fi

mkdir -p "${work}"
# Targets seeded from the shared test data as well (read only; never copied into the repo).
declare -A extra_seeds=()
# libhdf5 leaks on many error paths of a corrupt file (its own allocations, no tessera frame):
# leak reports would stop the hdf5 target at once, so it runs without leak detection.
declare -A extra_flags=([hdf5]="-detect_leaks=0")
data="${TESSERA_TESTDATA:-../shared/data}"
if [[ -d "${data}" ]]; then
  extra_seeds[hdf5]="${data}/emd/berkeley ${data}/emd/velox ${data}/hspy ${data}/nexus"
fi
for target in "${targets[@]}"; do
  binary="${build}/fuzz/${target}_fuzz"
  if [[ ! -x "${binary}" ]]; then
    echo "${target}: ${binary} not built (cmake --preset fuzz && cmake --build build/fuzz)" >&2
    continue
  fi
  mkdir -p "${work}/corpus/${target}" "fuzz/findings/${target}"
  log="${work}/${target}.log"
  # -fork=0, one job: the machine is shared. rss/malloc limit 2 GiB, 10 s per input.
  # shellcheck disable=SC2086
  nice -n 19 "${binary}" -max_total_time="${seconds}" -rss_limit_mb=2048 -timeout=10 \
    ${extra_flags[${target}]:-} ${TESSERA_FUZZ_FLAGS:-} -print_final_stats=1 -artifact_prefix="fuzz/findings/${target}/" \
    "${work}/corpus/${target}" "fuzz/corpus/${target}" ${extra_seeds[${target}]:-} >"${log}" 2>&1 || true
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -1)
  # -fork mode prints no final stats: take the last "#RUNS:" status line.
  [[ -n "${runs}" ]] || runs=$(grep -oE '^#[0-9]+' "${log}" | tail -1 | tr -d '#' || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "${log}" | tail -1 || true)
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "${log}" | tail -1 || true)
  findings=$(find "fuzz/findings/${target}" -type f ! -name README.md 2>/dev/null | wc -l || true)
  echo "${target}: ${seconds} s, ${runs:-?} runs, ${cov:-cov ?}, ${corpus:-corp ?}, findings ${findings}"
  rmdir "fuzz/findings/${target}" 2>/dev/null || true
done
