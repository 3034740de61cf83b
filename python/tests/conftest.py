# SPDX-License-Identifier: MIT
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TESSERA_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(relative):
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def scan_array():
    """A small 4D-STEM-like scan (8 x 12 | 32 x 24), float32, fixed seed."""
    rng = np.random.default_rng(0)
    return rng.gamma(2.0, 10.0, size=(8, 12, 32, 24)).astype(np.float32)


@pytest.fixture(scope="session")
def scan_npy(tmp_path_factory, scan_array):
    path = tmp_path_factory.mktemp("data") / "scan.npy"
    np.save(path, scan_array)
    return path


@pytest.fixture(scope="session")
def big_npy(tmp_path_factory):
    """Enough frames for many partitions (64 x 64 | 64 x 64 uint16, 32 MiB as float32)."""
    rng = np.random.default_rng(1)
    data = rng.integers(0, 1000, size=(64, 64, 64, 64), dtype=np.uint16)
    path = tmp_path_factory.mktemp("big") / "big.npy"
    np.save(path, data)
    return path, data
