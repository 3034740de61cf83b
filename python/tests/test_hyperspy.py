# SPDX-License-Identifier: MIT
import numpy as np
import pytest

import tessera as ts
from conftest import shared

hs = pytest.importorskip("hyperspy.api")


def test_result_to_hyperspy_keeps_axes(scan_array):
    axes = [ts.Axis("y", 8, 2.0, 1.0, "nm"), ts.Axis("x", 12, 2.5, 0.0, "nm"),
            ts.Axis("ky", 32, 0.1, -1.6, "1/nm"), ts.Axis("kx", 24, 0.1, -1.2, "1/nm")]
    ds = ts.open(scan_array, axes=axes)
    res = ds.run(["sum", ts.op("virtual-detector", masks=["disk:15.5,11.5,6", "disk:15.5,11.5,3"])])
    vimg = ts.to_hyperspy(res["virtual-detector"]["intensity"])
    assert isinstance(vimg, hs.signals.Signal2D)
    assert vimg.axes_manager.navigation_shape == (2,)  # one image per mask
    assert vimg.axes_manager.signal_shape == (12, 8)
    x = vimg.axes_manager.signal_axes[0]
    assert (x.name, x.scale, x.offset, x.units) == ("x", 2.5, 0.0, "nm")
    y = vimg.axes_manager.signal_axes[1]
    assert (y.name, y.scale, y.offset) == ("y", 2.0, 1.0)
    np.testing.assert_array_equal(vimg.data[1], res["virtual-detector"]["intensity"][:, :, 1])
    frame = ts.to_hyperspy(res["sum"]["sum"])
    assert frame.axes_manager.signal_axes[0].name == "kx"
    assert frame.axes_manager.signal_axes[0].units == "1/nm"
    assert np.shares_memory(frame.data, res["sum"]["sum"])


def test_dataset_to_hyperspy_and_back(scan_array):
    ds = ts.open(scan_array, axes=[ts.Axis("y", 8, 3.0, 0.0, "nm"), ts.Axis("x", 12, 3.0, 0.0, "nm"),
                                   ts.Axis("ky", 32), ts.Axis("kx", 24)])
    signal = ts.to_hyperspy(ds)
    assert isinstance(signal, hs.signals.Signal2D)
    assert signal.axes_manager.navigation_shape == (12, 8)
    assert signal.axes_manager.signal_shape == (24, 32)
    np.testing.assert_array_equal(signal.data, scan_array)
    back = ts.open(signal)
    assert back.shape == ds.shape and back.nav_shape == (8, 12)
    assert back.axes[0].scale == 3.0 and back.axes[0].units == "nm"
    assert np.shares_memory(back._source, signal.data)  # no copy on the way back
    np.testing.assert_allclose(back.run("sum")["sum"], scan_array.sum(axis=(0, 1), dtype=np.float64),
                               rtol=1e-6)


def test_open_spectrum_image_signal():
    data = np.arange(4 * 5 * 50, dtype=np.float32).reshape(4, 5, 50)
    s = hs.signals.Signal1D(data)
    s.axes_manager.signal_axes[0].scale = 0.5
    s.axes_manager.signal_axes[0].offset = 100.0
    s.axes_manager.signal_axes[0].units = "eV"
    s.metadata.General.title = "EELS"
    ds = ts.open(s)
    assert ds.nav_shape == (4, 5) and ds.sig_shape == (50,)
    assert ds.axes[2].units == "eV" and ds.axes[2].offset == 100.0
    assert ds.metadata["General"]["title"] == "EELS"
    lazy = ts.open(s.as_lazy())
    assert lazy.shape == ds.shape


# RosettaSciIO reads these formats too: the same file must give the same data and axes.
RSCIIO_FILES = [
    ("dm3/test_STEM_image.dm3", "rsciio.digitalmicrograph"),
    ("dm3/dmTest_3D_int16_64,65,66.dm3", "rsciio.digitalmicrograph"),
    ("mrc/HAADFscan.mrc", "rsciio.mrc"),
    ("hspy/example2_v3.1.hspy", "rsciio.hspy"),
    ("hspy/Cr_L_cl.hspy", "rsciio.hspy"),
]


@pytest.mark.parametrize("relative,reader", RSCIIO_FILES, ids=[f for f, _ in RSCIIO_FILES])
def test_matches_rosettasciio(relative, reader):
    rsciio = pytest.importorskip(reader)
    path = shared(relative)
    ref = rsciio.file_reader(str(path))[0]
    ds = ts.open(path)
    data = ds.read()
    ref_data = np.asarray(ref["data"])
    assert data.shape == ref_data.shape or data.squeeze().shape == ref_data.squeeze().shape
    np.testing.assert_array_equal(data.reshape(ref_data.shape), ref_data)
    # Axes in array order: RosettaSciIO lists them by index_in_array.
    ref_axes = sorted(ref["axes"], key=lambda a: a.get("index_in_array", 0))
    ours = [a for a in ds.axes if a.size > 1 or len(ds.axes) == len(ref_axes)]
    ref_axes = [a for a in ref_axes if a["size"] > 1 or len(ds.axes) == len(ref_axes)]
    assert len(ours) == len(ref_axes)
    for mine, theirs in zip(ours, ref_axes):
        assert mine.size == theirs["size"]
        units = theirs.get("units")
        units = units if isinstance(units, str) and units not in ("", "<undefined>") else ""
        # The same length in other units (MRC: Tessera keeps the file's Å, RosettaSciIO says nm).
        factor = TO_NM.get(mine.units, 1.0) / TO_NM.get(units, 1.0) if units else 1.0
        assert mine.scale * factor == pytest.approx(theirs.get("scale", 1.0), rel=1e-6)
        assert mine.offset * factor == pytest.approx(theirs.get("offset", 0.0), rel=1e-6, abs=1e-9)
        if units:
            assert mine.units == units or (mine.units in TO_NM and units in TO_NM)


TO_NM = {"nm": 1.0, "Å": 0.1, "A": 0.1, "µm": 1e3, "um": 1e3, "pm": 1e-3}
