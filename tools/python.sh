#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Python module in a virtual environment under build/ (Debian's python3 by default).
#   tools/python.sh install   create build/python-venv if needed, `pip install .` into it
#   tools/python.sh test      install, then run the pytest suite (python/tests) against it
# The build directory is build/python (pyproject.toml): rebuilds are incremental through Ninja
# and ccache. Environment: TESSERA_PYTHON (interpreter for the venv), TESSERA_VENV (its path).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${TESSERA_VENV:-build/python-venv}"
python="${TESSERA_PYTHON:-/usr/bin/python3}"
requirements=python/requirements-test.txt

if [[ ! -x "${venv}/bin/python" ]]; then
  echo "python: creating ${venv} with ${python}"
  "${python}" -m venv "${venv}"
fi
# Requirements once (and again when the list changes), not on every run.
stamp="${venv}/.tessera-requirements"
if [[ ! -f "${stamp}" ]] || ! cmp -s "${requirements}" "${stamp}"; then
  "${venv}/bin/python" -m pip install -q --disable-pip-version-check -r "${requirements}"
  cp "${requirements}" "${stamp}"
fi

start=${SECONDS}
# No build isolation: the build uses the venv's scikit-build-core and pybind11, so the CMake
# cache in build/python stays valid and only what changed is rebuilt.
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "${venv}/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps .
echo "python: tessera installed in ${venv} ($((SECONDS - start)) s); use ${venv}/bin/python or 'source ${venv}/bin/activate'"

case "${1:-install}" in
  install) ;;
  test)
    start=${SECONDS}
    "${venv}/bin/python" -m pytest -q -p no:cacheprovider python/tests
    echo "python: pytest took $((SECONDS - start)) s"
    ;;
  *)
    echo "usage: tools/python.sh install|test" >&2
    exit 2
    ;;
esac
