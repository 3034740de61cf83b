# SPDX-License-Identifier: MIT
import json

import numpy as np
import pytest

import tessera as ts


@pytest.fixture()
def pipeline_file(tmp_path, scan_array):
    np.save(tmp_path / "scan.npy", scan_array)
    doc = {
        "tessera": 1,
        "name": "bf_peaks",
        "nodes": [
            {"id": "scan", "op": "read", "params": {"path": "scan.npy"}},
            {"id": "bf", "op": "virtual-detector", "params": {"shape": "disk", "r": 6}},
            {"id": "smooth", "op": "gaussian-blur", "params": {"sigma": 1.0}},
            {"id": "peaks", "op": "find-peaks", "params": {"max_peaks": 3}},
        ],
        "edges": [
            {"from": {"node": "scan", "port": "data"}, "to": {"node": "bf", "port": "data"}},
            {"from": {"node": "bf", "port": "intensity"}, "to": {"node": "smooth", "port": "in"}},
            {"from": {"node": "smooth", "port": "out"}, "to": {"node": "peaks", "port": "image"}},
        ],
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    return path


def test_run_set_rerun_only_what_changed(pipeline_file, scan_array):
    p = ts.Pipeline.load(pipeline_file)
    first = p.run()
    bf = first["bf"]["intensity"]
    assert isinstance(bf, np.ndarray) and bf.shape == (8, 12)
    assert not bf.flags.writeable  # shared with the session's cache
    yy, xx = np.indices((32, 24))
    mask = (yy - 15.5) ** 2 + (xx - 11.5) ** 2 <= 36
    np.testing.assert_allclose(bf, scan_array[:, :, mask].sum(axis=-1), rtol=1e-5)
    assert first.executed == 4 and p.executions("bf") == 1

    p.set("smooth.sigma", 2.0)
    second = p.run()
    assert p.executions("bf") == 1 and p.executions("scan") == 1
    assert p.executions("smooth") == 2 and p.executions("peaks") == 2
    assert second.executed == 2 and second.cached >= 2
    assert not np.array_equal(second["smooth.out"], first["smooth.out"])
    assert p.document["nodes"][2]["params"]["sigma"] == 2.0


def test_table_output_is_a_dict_of_arrays(pipeline_file):
    out = ts.Pipeline.load(pipeline_file).run()
    peaks = out["peaks"]["peaks"]
    assert isinstance(peaks, ts.Table) and len(peaks) >= 2
    lengths = {len(c) for c in peaks.values()}
    assert len(lengths) == 1 and lengths.pop() <= 3
    records = peaks.to_records()
    assert records.dtype.names == tuple(peaks.keys())


def test_invalid_set_names_the_node(pipeline_file):
    p = ts.Pipeline.load(pipeline_file)
    with pytest.raises(ts.InvalidArgumentError) as info:
        p.set("nosuchnode.sigma", 1)
    assert "nosuchnode" in str(info.value)
    with pytest.raises(ts.InvalidArgumentError):
        p.set("smooth.sigma", -3)


def test_operator_error_names_the_node(tmp_path):
    doc = {"tessera": 1, "name": "missing",
           "nodes": [{"id": "scan", "op": "read", "params": {"path": "does-not-exist.npy"}},
                     {"id": "total", "op": "sum"}],
           "edges": [{"from": {"node": "scan", "port": "data"},
                      "to": {"node": "total", "port": "data"}}]}
    p = ts.Pipeline.from_dict(doc, base_dir=tmp_path)
    with pytest.raises(ts.TesseraError) as info:
        p.run()
    assert info.value.node == "scan"
    assert isinstance(info.value, ts.NotFoundError)
