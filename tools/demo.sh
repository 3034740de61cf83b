#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The demo behind `make demo`: generate a simulated 4D-STEM scan, run the standard analyses on it in
# one pass, write the results as HDF5 and as PNG pictures, and say where they are.
# Usage: tools/demo.sh [TESSERA_BINARY] [OUT_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tessera="${1:-build/release/apps/cli/tessera}"
out="${2:-out/demo}"
analyses="sum,stats,frame-sum,com,virtual-detector,radial-profile"
# An annular dark-field detector: a ring from 20 to 50 px around the centre of a 128 x 128 frame.
ring="masks=ring:63.5,63.5,20,50"

if [[ ! -x "${tessera}" ]]; then
  echo "demo: ${tessera} not found; build it with 'make release'" >&2
  exit 1
fi
mkdir -p "${out}/png"

run() {
  printf '+ %s\n' "$*"
  "$@"
}

run "${tessera}" generate 4dstem "${out}/scan.h5" --scan 64x64 --frame 128x128 --dtype uint16 --seed 0
run "${tessera}" info "${out}/scan.h5"
# The simulated detector has a few hot pixels; the generator lists them in the file's metadata
# ("hot_pixels": "y,x;y,x"), and excluding them keeps them out of the centre of mass.
hot=$("${tessera}" info "${out}/scan.h5" --json | grep -o 'hot_pixels[^0-9]*[0-9;,]*' | grep -o '[0-9][0-9;,]*$')
# One pass over the data; every result goes to HDF5 (with provenance) and, for 2-D results, to a
# picture: png/scan_<analysis>_<result>.png.
run "${tessera}" run "${analyses}" "${out}/scan.h5" --param "${ring}" --excluded-pixels "${hot}" \
  -o "${out}/results.h5" -o "${out}/png/scan.png"

echo
echo "Demo results:"
echo "  dataset:  ${out}/scan.h5"
echo "  results:  ${out}/results.h5   (every result array with axes and /provenance)"
echo "  pictures: ${out}/png/"
find "${out}/png" -name '*.png' -printf '            %f\n' | sort
