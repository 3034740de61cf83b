# SPDX-License-Identifier: MIT
import numpy as np
import pytest

import tessera as ts
from conftest import shared


def test_open_npy(scan_npy, scan_array):
    ds = ts.open(scan_npy)
    assert ds.shape == scan_array.shape
    assert ds.nav_shape == (8, 12)
    assert ds.sig_shape == (32, 24)
    assert ds.dtype == np.float32
    assert ds.format == "npy"
    assert [a.name for a in ds.axes] == ["y", "x", "sy", "sx"]
    assert all(a.scale == 1.0 and a.offset == 0.0 for a in ds.axes)
    assert isinstance(ds.metadata, dict)
    np.testing.assert_array_equal(ds.read(), scan_array)
    np.testing.assert_array_equal(ds.read((5, 9)), scan_array.reshape(96, 32, 24)[5:9])
    assert "npy" in repr(ds)


def test_open_mib_with_axes_and_metadata():
    ds = ts.open(shared("mib/001_4x2_6bit.mib"))
    assert ds.format == "mib"
    assert len(ds.sig_shape) == 2
    assert ds.metadata  # the header's fields
    frames = ds.read((0, 2))
    assert frames.shape == (2, *ds.sig_shape)


def test_open_raw_with_keyword_params(tmp_path, scan_array):
    path = tmp_path / "scan.raw"
    scan_array.tofile(path)
    ds = ts.open(path, nav_shape=(8, 12), sig_shape=(32, 24), dtype=np.float32)
    assert ds.format == "raw"
    np.testing.assert_array_equal(ds.read(), scan_array)


def test_open_numpy_shares_memory(scan_array):
    ds = ts.open(scan_array)
    assert ds.shape == scan_array.shape and ds.format == "numpy"
    assert np.shares_memory(ds._source, scan_array)
    axes = [ts.Axis("y", 8, 2.0, 1.0, "nm"), ts.Axis("x", 12, 2.0, 0.0, "nm"),
            ts.Axis("ky", 32, 0.1, -1.6, "1/nm"), ts.Axis("kx", 24, 0.1, -1.2, "1/nm")]
    ds = ts.open(scan_array, axes=axes, metadata={"beam": {"energy_kev": 300}})
    assert ds.axes[0] == axes[0] and ds.axes[3].units == "1/nm"
    assert ds.metadata == {"beam": {"energy_kev": 300}}
    spectra = ts.open(np.zeros((4, 5, 100), np.float64), sig_dims=1)
    assert spectra.nav_shape == (4, 5) and spectra.sig_shape == (100,)


def test_open_big_endian_and_strided_arrays_are_converted(scan_array):
    swapped = scan_array.astype(">f4")
    np.testing.assert_array_equal(ts.open(swapped).read(), scan_array)
    strided = scan_array[:, ::2]
    np.testing.assert_array_equal(ts.open(strided).read(), strided)


def test_not_found_error_carries_the_file(tmp_path):
    missing = tmp_path / "missing.mib"
    with pytest.raises(ts.NotFoundError) as info:
        ts.open(missing)
    err = info.value
    assert isinstance(err, ts.TesseraError) and isinstance(err, FileNotFoundError)
    assert err.code == "not_found"
    assert err.file == str(missing)


def test_corrupt_file_error_carries_offset(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz'}\n" + b"\0" * 64)
    with pytest.raises(ts.TesseraError) as info:
        ts.open(path)
    err = info.value
    assert err.code in ("corrupt_file", "unsupported")
    assert err.file.endswith("bad.npy")
    assert str(err)


def test_invalid_argument_names_the_field(scan_npy):
    with pytest.raises(ts.InvalidArgumentError) as info:
        ts.open(scan_npy, no_such_param=3)
    assert info.value.field == "no_such_param"
    assert isinstance(info.value, ValueError)


def test_registries_are_listed():
    names = {a["name"] for a in ts.analyses()}
    assert {"sum", "virtual-detector", "com", "stats"} <= names
    assert "mib" in {f["name"] for f in ts.formats()}
    assert any(o["name"] == "gaussian-blur" for o in ts.pipeline_operators())
