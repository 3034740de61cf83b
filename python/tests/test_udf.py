# SPDX-License-Identifier: MIT
import numpy as np
import pytest

import tessera as ts


class SumTile(ts.UDF):
    """The sum of all frames, like the built-in "sum" (a sig buffer, summed on merge)."""

    def get_result_buffers(self):
        return {"sum": self.buffer("sig", dtype="float64")}

    def process_tile(self, tile):
        self.results.sum[:] += tile.sum(axis=0, dtype=np.float64)


class FrameSumTile(ts.UDF):
    def get_result_buffers(self):
        return {"frame_sum": self.buffer("nav", dtype="float64")}

    def process_tile(self, tile):
        self.results.frame_sum[:] += tile.sum(axis=(1, 2), dtype=np.float64)


class FrameSumFrame(ts.UDF):
    def get_result_buffers(self):
        return {"frame_sum": self.buffer("nav", dtype="float64")}

    def process_frame(self, frame):
        self.results.frame_sum[:] = frame.sum(dtype=np.float64)


class VirtualDetectorPartition(ts.UDF):
    """A masked sum per frame, a whole partition at a time (a nav buffer with extra_shape)."""

    def __init__(self, masks):
        super().__init__(masks=masks)

    def get_result_buffers(self):
        return {"intensity": self.buffer("nav", extra_shape=(len(self.params.masks),),
                                         dtype="float64")}

    def process_partition(self, partition):
        flat = partition.reshape(partition.shape[0], -1).astype(np.float64)
        masks = np.stack([m.ravel() for m in self.params.masks], axis=1)
        self.results.intensity[:] = flat @ masks


class MaxWithMerge(ts.UDF):
    """A maximum frame: needs its own merge and an initial value of -inf."""

    def get_result_buffers(self):
        return {"max": self.buffer("sig", dtype="float32"),
                "count": self.buffer("single", dtype="int64")}

    def preprocess(self):
        self.results.max[:] = -np.inf

    def process_tile(self, tile):
        np.maximum(self.results.max, tile.max(axis=0), out=self.results.max)
        self.results.count[:] += tile.shape[0]

    def merge(self, dest, src):
        np.maximum(dest.max, src.max, out=dest.max)
        dest.count[:] += src.count


class NativeDtype(ts.UDF):
    def get_preferred_input_dtype(self):
        return self.USE_NATIVE_DTYPE

    def get_result_buffers(self):
        return {"seen": self.buffer("single", extra_shape=(1,), dtype="int64")}

    def process_tile(self, tile):
        assert tile.dtype == self.meta.input_dtype == self.meta.dataset_dtype
        assert not tile.flags.writeable
        self.results.seen[0] = 1


def test_python_sum_equals_builtin(scan_npy):
    ds = ts.open(scan_npy)
    res = ds.run(["sum", SumTile()], partition_bytes=64 << 10)
    np.testing.assert_allclose(res["SumTile"]["sum"], res["sum"]["sum"], rtol=1e-12)


@pytest.mark.parametrize("udf", [FrameSumTile(), FrameSumFrame()], ids=["tile", "frame"])
def test_python_frame_sum_equals_builtin(scan_npy, udf):
    ds = ts.open(scan_npy)
    res = ds.run(["frame-sum", udf], partition_bytes=64 << 10)
    np.testing.assert_allclose(res[1]["frame_sum"], res["frame-sum"]["frame_sum"], rtol=1e-6)
    assert res[1]["frame_sum"].kind == "nav"
    assert [a.name for a in res[1]["frame_sum"].axes] == ["y", "x"]


def test_python_virtual_detector_equals_builtin(scan_npy):
    yy, xx = np.indices((32, 24))
    disk = ((yy - 15.5) ** 2 + (xx - 11.5) ** 2 <= 36).astype(np.float64)
    ring = (((yy - 15.5) ** 2 + (xx - 11.5) ** 2 > 49) & ((yy - 15.5) ** 2 + (xx - 11.5) ** 2 <= 121)).astype(np.float64)
    ds = ts.open(scan_npy)
    res = ds.run([ts.op("virtual-detector", masks=["disk:15.5,11.5,6", "ring:15.5,11.5,7,11"]),
                  VirtualDetectorPartition([disk, ring])], partition_bytes=64 << 10)
    np.testing.assert_allclose(res[1]["intensity"], res[0]["intensity"], rtol=1e-5)


def test_python_udf_with_roi(scan_npy, scan_array):
    roi = np.zeros((8, 12), bool)
    roi[1:3] = True
    res = ts.open(scan_npy).run([SumTile(), FrameSumTile()], roi=roi)
    np.testing.assert_allclose(res[0]["sum"], scan_array[roi].sum(axis=0, dtype=np.float64), rtol=1e-6)
    assert np.isnan(res[1]["frame_sum"][~roi]).all()


def test_merge_and_preprocess(scan_npy, scan_array):
    res = ts.open(scan_npy).run(MaxWithMerge(), partition_bytes=64 << 10, threads=2)
    np.testing.assert_array_equal(res["max"], scan_array.max(axis=(0, 1)))
    assert res["count"].item() == 96


def test_native_dtype(big_npy):
    path, _ = big_npy
    res = ts.open(path).run(NativeDtype())
    assert res["seen"][0] == 1


def test_python_udf_on_numpy_dataset(scan_array):
    res = ts.open(scan_array).run(SumTile())
    np.testing.assert_allclose(res["sum"], scan_array.sum(axis=(0, 1), dtype=np.float64), rtol=1e-6)


def test_exception_in_udf_arrives_as_itself(scan_npy):
    class Broken(SumTile):
        def process_tile(self, tile):
            raise ValueError("broken on purpose")

    with pytest.raises(ValueError, match="broken on purpose"):
        ts.open(scan_npy).run(Broken())


def test_bad_buffer_declaration(scan_npy):
    class NoBuffers(ts.UDF):
        def get_result_buffers(self):
            return {"x": ("nav",)}

        def process_tile(self, tile):
            pass

    with pytest.raises(TypeError, match="self.buffer"):
        ts.open(scan_npy).run(NoBuffers())
    with pytest.raises(ValueError):
        ts.UDF().buffer("everywhere")


def test_results_outside_a_call():
    with pytest.raises(AttributeError):
        SumTile().results
