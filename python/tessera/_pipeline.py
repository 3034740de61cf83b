# SPDX-License-Identifier: MIT
"""Pipelines from Python: load, run, change a parameter, re-run only what changed."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from . import _tessera
from ._dataset import Dataset
from ._results import ResultArray


class Table(dict):
    """A table output: column name -> float64 array (read-only, shared with the session)."""

    def __init__(self, columns, units):
        super().__init__(columns)
        self.units = dict(zip(columns.keys(), units))

    def to_records(self):
        """Return the table as a NumPy structured array (a copy)."""
        rows = len(next(iter(self.values()))) if self else 0
        out = np.empty(rows, dtype=[(name, np.float64) for name in self])
        for name, column in self.items():
            out[name] = column
        return out


def _value(v):
    kind = v["kind"]
    if kind in ("array", "image", "spectrum"):
        data = v["data"]
        return ResultArray(data, "", v["axes"], v["units"], kind=kind, signal_dims=data.ndim)
    if kind == "table":
        return Table(v["columns"], v["units"])
    if kind == "dataset":
        return Dataset(v["dataset"])
    return v["value"]


class PipelineResult(Mapping):
    """Outputs of a pipeline run: ``result["node"]["port"]`` (or ``result["node.port"]``).

    Arrays are read-only NumPy arrays (:class:`ResultArray`) shared with the session's cache;
    tables are :class:`Table` dicts; scalars are floats. ``executed`` counts operator runs,
    ``cached`` node results served from the cache.
    """

    def __init__(self, raw):
        self.nodes = {name: {port: _value(v) for port, v in node["outputs"].items()}
                      for name, node in raw["nodes"].items()}
        self.node_executed = {name: node["executed"] for name, node in raw["nodes"].items()}
        self.executed = raw["executed"]
        self.cached = raw["cached"]
        self.seconds = raw["seconds"]

    def __getitem__(self, key):
        if key in self.nodes:
            return self.nodes[key]
        node, _, port = key.partition(".")
        if port and node in self.nodes and port in self.nodes[node]:
            return self.nodes[node][port]
        raise KeyError(key)

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    def __repr__(self):
        return (f"<tessera.PipelineResult {len(self.nodes)} nodes, executed {self.executed}, "
                f"cached {self.cached}, {self.seconds:.3f} s>")


class Pipeline:
    """A pipeline document being worked on (a C++ ``pipeline::Session``).

    ``run()`` computes every node not cached; after ``set("node.param", value)`` the next
    ``run()`` recomputes only that node and what depends on it (see :meth:`executions`).
    """

    def __init__(self, handle):
        self._handle = handle

    @classmethod
    def load(cls, path, *, threads=0, output_dir=""):
        """Load a pipeline JSON file; relative paths in it resolve against its directory."""
        return cls(_tessera.Pipeline.load(os.fspath(path), threads, os.fspath(output_dir)))

    @classmethod
    def from_dict(cls, document, *, base_dir=".", threads=0, output_dir=""):
        """Make a pipeline from a document given as a dict (or JSON text)."""
        text = document if isinstance(document, str) else json.dumps(document)
        return cls(_tessera.Pipeline.parse(text, "<python>", os.path.abspath(base_dir), threads,
                                           os.fspath(output_dir)))

    def set(self, node_dot_param, value):
        """Set ``node.param`` (``node.param/0`` inside a list) to a JSON-compatible value."""
        if isinstance(value, np.generic):
            value = value.item()
        self._handle.set(node_dot_param, json.dumps(value))

    def run(self) -> PipelineResult:
        """Run what is not cached; Ctrl-C cancels (KeyboardInterrupt)."""
        return PipelineResult(self._handle.run())

    @property
    def document(self):
        """The document as a dict, with every parameter set so far."""
        return json.loads(self._handle.document_json())

    def executions(self, node):
        """How many times ``node``'s operator has run in this session."""
        return self._handle.executions(node)

    @property
    def total_executions(self):
        return self._handle.total_executions

    def clear_cache(self):
        self._handle.clear_cache()


def pipeline_operators():
    """Return every pipeline operator (name, kind, ports, params schema) as a list of dicts."""
    return json.loads(_tessera.pipeline_operators())
