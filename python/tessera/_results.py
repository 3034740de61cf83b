# SPDX-License-Identifier: MIT
"""Results of analyses: NumPy arrays over the engine's buffers, with their axes and units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np


class Axis(NamedTuple):
    """Calibration of one axis: coordinate = offset + index * scale, in ``units``."""

    name: str
    size: int
    scale: float = 1.0
    offset: float = 0.0
    units: str = ""
    values: tuple | None = None  # explicit coordinates of an unevenly spaced axis

    @classmethod
    def from_dict(cls, d):
        values = d.get("values")
        return cls(d["name"], int(d["size"]), float(d["scale"]), float(d["offset"]), d["units"],
                   tuple(values) if values else None)

    def to_dict(self):
        d = {"name": self.name, "size": self.size, "scale": self.scale, "offset": self.offset,
             "units": self.units}
        if self.values:
            d["values"] = list(self.values)
        return d

    def coordinates(self):
        """Return the coordinate of every index."""
        if self.values:
            return np.asarray(self.values)
        return self.offset + self.scale * np.arange(self.size)


class ResultArray(np.ndarray):
    """A NumPy array that shares memory with a result buffer, carrying its calibration.

    ``axes`` (one :class:`Axis` per dimension), ``units`` of the values, ``description``,
    ``kind`` (``"nav"``, ``"sig"`` or ``"single"``: what the buffer is indexed by) and
    ``signal_dims`` (the leading dimensions that form the image or spectrum: the navigation
    dimensions of a ``nav`` result, the signal dimensions of a ``sig`` result).
    """

    def __new__(cls, data, name="", axes=(), units="", description="", kind="single",
                signal_dims=None):
        out = np.asarray(data).view(cls)
        out.name = name
        out.axes = tuple(Axis.from_dict(a) if isinstance(a, dict) else a for a in axes)
        out.units = units
        out.description = description
        out.kind = kind
        out.signal_dims = out.ndim if signal_dims is None else signal_dims
        return out

    def __array_finalize__(self, obj):
        # Views of the same shape keep the calibration; anything reshaped or reduced drops it.
        same = obj is not None and getattr(obj, "shape", None) == self.shape
        self.name = getattr(obj, "name", "") if same else ""
        self.axes = getattr(obj, "axes", ()) if same else ()
        self.units = getattr(obj, "units", "") if same else ""
        self.description = getattr(obj, "description", "") if same else ""
        self.kind = getattr(obj, "kind", "single") if same else "single"
        self.signal_dims = getattr(obj, "signal_dims", self.ndim) if same else self.ndim

    def __reduce__(self):  # pickles as a plain array: the calibration is not essential state
        return np.asarray(self).__reduce__()


def make_result(d) -> ResultArray:
    return ResultArray(d["data"], d["name"], d["axes"], d["units"], d["description"], d["kind"],
                       d["signal_dims"])


class AnalysisResults(dict):
    """The results of one analysis: result name -> :class:`ResultArray` (also as attributes)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(self.keys()) + list(super().__dir__())


class Results(Mapping):
    """The results of several analyses of one pass, by analysis name (or by position).

    ``res["com"]["com_x"]``, ``res[2]["com_x"]`` and ``res["com"].com_x`` are the same array.
    The same analysis given twice is keyed ``"name"`` and ``"name#2"``.
    """

    def __init__(self, keys, per_analysis):
        self._items = dict(zip(keys, per_analysis))

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self._items.values())[key]
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        inner = ", ".join(
            f"{k!r}: {{{', '.join(f'{n}: {a.shape}' for n, a in v.items())}}}"
            for k, v in self._items.items())
        return f"Results({inner})"


def unique_keys(names):
    seen = {}
    keys = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys


def convert_results(keys, raw) -> Results:
    return Results(keys, [AnalysisResults((d["name"], make_result(d)) for d in per) for per in raw])
