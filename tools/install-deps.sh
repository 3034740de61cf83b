#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages that Tessera builds against, and only those that are missing.
# Idempotent: when everything is present it returns in well under a second without touching apt.
# Usage: tools/install-deps.sh [--check]   (--check: list what is missing, exit 1 if anything is)
set -euo pipefail

# Required to configure, build and test.
REQUIRED=(
  ninja-build ccache g++ cmake pkg-config
  openmpi-bin libopenmpi-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtbb-dev libhdf5-dev libopenblas-dev liblapacke-dev libeigen3-dev libhwy-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libxxhash-dev
  libtiff-dev libpng-dev zlib1g-dev
  libblosc-dev libzip-dev libzstd-dev
  libvalijson-dev libceres-dev libkissfft-dev
  python3-dev python3-venv
)
# Welcome but not required: HDF5 filter plugins (LZ4, BZip2; Blosc) for compressed test files.
OPTIONAL=(hdf5-filter-plugin hdf5-filter-plugin-blosc-serial)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing_of() {
  local pkg
  for pkg in "$@"; do
    is_installed "${pkg}" || printf '%s\n' "${pkg}"
  done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: dpkg-query not found; this script supports Debian/Ubuntu only." >&2
  echo "install-deps: install by hand: ${REQUIRED[*]}" >&2
  exit 1
fi

mapfile -t missing_required < <(missing_of "${REQUIRED[@]}")
mapfile -t missing_optional < <(missing_of "${OPTIONAL[@]}")

if [[ "${1:-}" == "--check" ]]; then
  if ((${#missing_required[@]} + ${#missing_optional[@]} == 0)); then
    echo "install-deps: all packages present"
    exit 0
  fi
  printf 'missing (required): %s\n' "${missing_required[*]:-none}"
  printf 'missing (optional): %s\n' "${missing_optional[*]:-none}"
  ((${#missing_required[@]} == 0))
  exit
fi

has_candidate() {
  local candidate
  candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [[ -n "${candidate}" && "${candidate}" != "(none)" ]]
}

# An optional package that apt does not know (another Debian release, no cache yet) is skipped
# unless apt-get update runs anyway, so that a missing optional package never makes every call slow.
if ((${#missing_required[@]} == 0)); then
  known_optional=()
  for pkg in "${missing_optional[@]}"; do
    has_candidate "${pkg}" && known_optional+=("${pkg}")
  done
  missing_optional=("${known_optional[@]}")
  if ((${#missing_optional[@]} == 0)); then
    exit 0
  fi
fi

if ((EUID == 0)); then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
  # Without a terminal sudo cannot ask for a password; fail with a clear message instead of hanging.
  [[ -t 0 ]] || SUDO+=(-n)
else
  echo "install-deps: missing packages and not root, and sudo is not available:" >&2
  echo "  apt-get install ${missing_required[*]} ${missing_optional[*]}" >&2
  exit 1
fi

APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "install-deps: installing ${missing_required[*]} ${missing_optional[*]}"
"${APT[@]}" update
if ((${#missing_required[@]} > 0)); then
  "${APT[@]}" install --no-install-recommends "${missing_required[@]}"
fi
# Optional packages one by one: one that this release of Debian lacks must not stop the build.
for pkg in "${missing_optional[@]}"; do
  if ! has_candidate "${pkg}" || ! "${APT[@]}" install --no-install-recommends "${pkg}"; then
    echo "install-deps: optional package ${pkg} is not available; continuing without it" >&2
  fi
done

mapfile -t still_missing < <(missing_of "${REQUIRED[@]}")
if ((${#still_missing[@]} > 0)); then
  echo "install-deps: still missing after apt-get: ${still_missing[*]}" >&2
  exit 1
fi
