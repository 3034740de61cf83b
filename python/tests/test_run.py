# SPDX-License-Identifier: MIT
import os
import signal

import numpy as np
import pytest

import tessera as ts


def disk(shape, cy, cx, r):
    yy, xx = np.indices(shape)
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.float64)


def test_one_pass_several_analyses(scan_npy, scan_array):
    ds = ts.open(scan_npy)
    res = ds.run(["sum", ts.op("virtual-detector", masks=["disk:15.5,11.5,6"]), "com", "frame-sum"])
    assert list(res) == ["sum", "virtual-detector", "com", "frame-sum"]
    data = scan_array.astype(np.float64)
    np.testing.assert_allclose(res["sum"]["sum"], data.sum(axis=(0, 1)), rtol=1e-10)
    np.testing.assert_allclose(res["frame-sum"].frame_sum, data.sum(axis=(2, 3)), rtol=1e-10)
    mask = disk((32, 24), 15.5, 11.5, 6)
    np.testing.assert_allclose(res["virtual-detector"]["intensity"][..., 0],
                               np.einsum("yxij,ij->yx", data, mask), rtol=1e-5)
    assert res[2] is res["com"]
    assert res["com"]["com_x"].shape == (8, 12)


def test_results_share_memory_with_the_result_buffers(scan_npy):
    res = ts.open(scan_npy).run("sum")
    array = res["sum"]
    assert isinstance(array, ts.ResultArray) and isinstance(array, np.ndarray)
    assert not array.flags.owndata
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    assert type(base).__name__ == "PyCapsule"  # the NdArray itself, no copy
    assert array.kind == "sig" and array.signal_dims == 2
    assert [a.name for a in array.axes] == ["sy", "sx"]


def test_single_analysis_returns_its_results(scan_npy):
    res = ts.open(scan_npy).run(ts.op("virtual-detector", shape="disk", r=4.0))
    assert set(res) == {"intensity"}
    assert res.intensity.kind == "nav" and res.intensity.shape == (8, 12, 1)  # one mask


def test_mask_image_as_array(scan_npy, scan_array):
    mask = np.zeros((32, 24), np.float32)
    mask[3:9, 2:7] = 0.5
    res = ts.open(scan_npy).run(ts.op("virtual-detector", masks=mask))
    np.testing.assert_allclose(res.intensity[..., 0], np.einsum("yxij,ij->yx", scan_array, mask),
                               rtol=1e-5)


def test_roi_leaves_nan_outside(scan_npy, scan_array):
    roi = np.zeros((8, 12), bool)
    roi[2:4, 3:9] = True
    res = ts.open(scan_npy).run(["frame-sum", "sum"], roi=roi)
    fs = res["frame-sum"]["frame_sum"]
    assert np.isnan(fs[~roi]).all()
    np.testing.assert_allclose(fs[roi], scan_array[roi].sum(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(res["sum"]["sum"], scan_array[roi].astype(np.float64).sum(axis=0),
                               rtol=1e-10)


def test_progress_callable_sees_every_frame(big_npy):
    path, _ = big_npy
    events = []
    ts.open(path).run("sum", progress=events.append, partition_bytes=1 << 20)
    assert events
    assert events[-1]["frames_done"] == events[-1]["frames_total"] == 64 * 64
    assert events[-1]["partitions_done"] == events[-1]["partitions_total"]


def test_run_iter_yields_partials_then_final(big_npy):
    path, data = big_npy
    partials = list(ts.open(path).run_iter("frame-sum", partition_bytes=1 << 20))
    assert len(partials) >= 2
    assert partials[-1].final and not any(p.final for p in partials[:-1])
    final = partials[-1].results["frame_sum"]
    np.testing.assert_allclose(final, data.sum(axis=(2, 3), dtype=np.float64))
    first = partials[0].results["frame_sum"]
    assert partials[0].frames_done < partials[0].frames_total
    assert np.isnan(first).any()  # frames not yet merged


def test_run_iter_can_stop_early(big_npy):
    path, _ = big_npy
    for partial in ts.open(path).run_iter("sum", partition_bytes=1 << 20):
        break  # the generator's close() cancels the run
    assert not partial.final


class SigintAfterFirstTile(ts.UDF):
    """Sends SIGINT to the process from a worker thread, as Ctrl-C would."""

    calls = 0

    def get_result_buffers(self):
        return {"n": self.buffer("single", dtype="int64")}

    def process_tile(self, tile):
        type(self).calls += 1
        if type(self).calls == 1:
            os.kill(os.getpid(), signal.SIGINT)
        self.results.n[:] += 1


def test_ctrl_c_cancels_cleanly(big_npy):
    path, _ = big_npy
    ds = ts.open(path)
    with pytest.raises(KeyboardInterrupt):
        ds.run(["sum", SigintAfterFirstTile()], partition_bytes=1 << 20, threads=1)
    assert SigintAfterFirstTile.calls < 64 * 64 // 32  # stopped long before the last tile
    # The dataset is still usable after a cancelled run.
    assert ds.run("sum")["sum"].shape == (64, 64)


def test_unknown_analysis_is_an_invalid_argument(scan_npy):
    with pytest.raises(ts.InvalidArgumentError) as info:
        ts.open(scan_npy).run("no-such-analysis")
    assert info.value.field == "analysis"


def test_bad_parameter_names_the_parameter(scan_npy):
    with pytest.raises(ts.InvalidArgumentError) as info:
        ts.open(scan_npy).run(ts.op("virtual-detector", shape="disk", r="two"))
    assert info.value.field == "r"


def test_corrections_dark_and_gain(scan_npy, scan_array):
    dark = np.full((32, 24), 1.5, np.float32)
    gain = np.full((32, 24), 2.0, np.float32)
    res = ts.open(scan_npy).run("sum", dark=dark, gain=gain)
    expected = ((scan_array.astype(np.float64) - 1.5) * 2.0).sum(axis=(0, 1))
    np.testing.assert_allclose(res["sum"], expected, rtol=1e-5)
