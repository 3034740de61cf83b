# SPDX-License-Identifier: MIT
# Entry points for people and CI. Each target does its own set-up: missing Debian packages are
# installed by tools/install-deps.sh, CMake configures the preset, Ninja builds through ccache.
#
#   make demo     build Release, generate a simulated 4D-STEM scan, run the standard analyses;
#                 install the Python module into build/python-venv
#   make test     build the dev preset (Debug + ASan + UBSan) and run the whole suite, then
#                 `pip install .` into build/python-venv and run the Python tests (pytest)
#   make python   install the Python module into build/python-venv (pip install .)
#   make python-test  only the Python part of `make test`
#   make release  build the release preset only
#   make bench    end-to-end benchmark against NumPy and LiberTEM (bench/run_bench.sh)
#   make clean    remove build trees and demo output

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

.PHONY: help deps configure-release release configure-dev dev test demo bench bench-small clean \
	python python-test

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

deps:
	@tools/install-deps.sh

configure-release: deps
	cmake --preset release

release: configure-release
	cmake --build --preset release

configure-dev: deps
	cmake --preset dev

dev: configure-dev
	cmake --build --preset dev

# ctest prints its summary ("100% tests passed, 0 tests failed out of N") last and exits non-zero
# when any test fails, which fails the target.
test: dev
	ctest --preset dev
	tools/python.sh test

python: deps
	tools/python.sh install

python-test: deps
	tools/python.sh test

demo: release
	tools/demo.sh build/release/apps/cli/tessera out/demo
	tools/python.sh install

bench: release
	bench/run_bench.sh

bench-small: release
	bench/run_bench.sh --small

clean:
	rm -rf build out
