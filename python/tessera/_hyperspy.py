# SPDX-License-Identifier: MIT
"""HyperSpy round trips: Tessera results and datasets as signals, signals as datasets."""

from __future__ import annotations

import os

import numpy as np

from ._results import AnalysisResults, Axis, ResultArray, Results


def _text(value):
    """HyperSpy leaves unset names and units as traits' Undefined: make them strings."""
    return value if isinstance(value, str) else ""


def dataset_args(signal):
    """Return (array, sig_dims, axes, metadata) to open a HyperSpy signal as a dataset."""
    data = signal.data
    if hasattr(data, "compute"):  # a lazy signal: Tessera needs the frames in memory
        data = data.compute()
    array = np.asarray(data)
    manager = signal.axes_manager
    ordered = sorted(manager._axes, key=lambda a: a.index_in_array)
    axes = []
    for axis in ordered:
        d = {"name": _text(axis.name), "size": int(axis.size), "units": _text(axis.units)}
        if getattr(axis, "is_uniform", True):
            d["scale"] = float(axis.scale)
            d["offset"] = float(axis.offset)
        else:
            d["values"] = [float(v) for v in axis.axis]
        axes.append(d)
    sig_dims = int(manager.signal_dimension) or 1
    try:
        metadata = signal.metadata.as_dictionary()
    except Exception:  # a signal with odd metadata still opens
        metadata = {}
    return array, sig_dims, axes, metadata


def _axis_dict(axis: Axis, navigate: bool):
    d = {"name": axis.name or None, "size": axis.size, "navigate": navigate}
    if axis.units:
        d["units"] = axis.units
    if axis.values:
        d["axis"] = np.asarray(axis.values)
    else:
        d["scale"] = axis.scale
        d["offset"] = axis.offset
    return {k: v for k, v in d.items() if v is not None}


def _signal(data, signal_axes, nav_axes, title, quantity="", original_metadata=None):
    """Build a Signal1D/Signal2D/BaseSignal: data ordered (navigation..., signal...)."""
    import hyperspy.api as hs

    axes = [_axis_dict(a, True) for a in nav_axes] + [_axis_dict(a, False) for a in signal_axes]
    cls = {1: hs.signals.Signal1D, 2: hs.signals.Signal2D}.get(len(signal_axes))
    if cls is None:
        signal = hs.signals.BaseSignal(data, axes=axes)
        signal.axes_manager.set_signal_dimension(len(signal_axes))
    else:
        signal = cls(data, axes=axes)
    signal.metadata.General.title = title
    if quantity:
        signal.metadata.set_item("Signal.quantity", quantity)
    if original_metadata:
        try:
            signal.original_metadata.add_dictionary(original_metadata)
        except Exception:  # metadata HyperSpy cannot hold does not stop the conversion
            pass
    return signal


def _default_axes(shape):
    return [Axis(f"dim{i}", n) for i, n in enumerate(shape)]


def _result_signal(result: ResultArray):
    data = np.asarray(result)
    axes = list(result.axes) if len(result.axes) == data.ndim else _default_axes(data.shape)
    sd = result.signal_dims if result.kind in ("nav", "sig") else data.ndim
    # Extra dimensions (several masks, ...) navigate; the image or spectrum is the signal.
    order = list(range(sd, data.ndim)) + list(range(sd))
    return _signal(data.transpose(order), axes[:sd], axes[sd:], result.name, result.units)


def to_hyperspy(obj):
    """Return a HyperSpy signal for a result array or a dataset, with axes and metadata.

    A ``nav`` result (a virtual image) becomes an image over the scan axes, extra dimensions
    (one per mask, ...) navigating; a ``sig`` result an image over the detector axes; a
    :class:`~tessera.Dataset` is read into memory with its navigation and signal axes. The
    results of an analysis (a dict) give a dict of signals. Arrays are shared, not copied.
    """
    from ._dataset import Dataset

    if isinstance(obj, ResultArray):
        return _result_signal(obj)
    if isinstance(obj, (AnalysisResults, Results, dict)):
        return {k: to_hyperspy(v) for k, v in obj.items()}
    if isinstance(obj, Dataset):
        data = obj.read()
        axes = list(obj.axes)
        nav = obj.nav_dims
        title = os.path.basename(obj.path) if obj.path and obj.path != "<memory>" else ""
        return _signal(data, axes[nav:], axes[:nav], title, original_metadata=obj.metadata)
    if isinstance(obj, np.ndarray):
        return _result_signal(ResultArray(obj))
    raise TypeError(f"cannot convert {type(obj).__name__} to a HyperSpy signal")
