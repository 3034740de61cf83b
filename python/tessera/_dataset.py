# SPDX-License-Identifier: MIT
"""Datasets: files of any registered format, NumPy/Dask arrays and HyperSpy signals."""

from __future__ import annotations

import json
import os
import sys
from typing import NamedTuple

import numpy as np

from . import _tessera
from ._params import to_text
from ._results import Axis, convert_results, unique_keys
from ._udf import UDF


class Analysis:
    """A built-in analysis with its parameters (make one with :func:`op`)."""

    def __init__(self, name: str, params: dict):
        self.name = name
        self.params = dict(params)

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"tessera.op({self.name!r}{args})"

    def __eq__(self, other):
        return isinstance(other, Analysis) and (self.name, self.params) == (other.name, other.params)

    def spec(self):
        texts, arrays = {}, {}
        for key, value in self.params.items():
            if value is None:
                continue
            if isinstance(value, np.ndarray) and value.ndim >= 2:
                # An image of weights: virtual-detector's masks=array means mask_file=array.
                arrays["mask_file" if key == "masks" else key] = value
                texts.setdefault("mask_file" if key == "masks" else key, "<array>")
            else:
                texts[key] = to_text(value, key)
        return ("analysis", self.name, texts, arrays)


def op(name: str, **params) -> Analysis:
    """Return the analysis ``name`` with parameters, e.g.
    ``op("virtual-detector", masks=["ring:63.5,63.5,20,50"])``. Values may be numbers, strings,
    booleans, tuples (shapes, lists) or, for image parameters (``mask_file``), NumPy arrays.
    See :func:`analyses` for every analysis and its parameters."""
    if not isinstance(name, str):
        raise TypeError("op() takes the analysis name first")
    return Analysis(name, params)


def _spec(item):
    if isinstance(item, str):
        return item, ("analysis", item, {}, {})
    if isinstance(item, Analysis):
        return item.name, item.spec()
    if isinstance(item, UDF):
        return item._tessera_name(), ("python", item)
    raise TypeError(f"not an analysis: {item!r} (a name, tessera.op(...) or a tessera.UDF)")


class Partial(NamedTuple):
    """Progress of a run and its results so far (``final`` on the last one)."""

    results: object
    partitions_done: int
    partitions_total: int
    frames_done: int
    frames_total: int
    final: bool


class _Progress:
    """A progress display: tqdm when installed, else a line on stderr; or a user callable."""

    def __init__(self, progress, total):
        self.callback = progress if callable(progress) else None
        self.bar = None
        if progress is True:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit="frames", unit_scale=True, leave=False)
            except ImportError:
                self.bar = None
        self.enabled = bool(progress)
        self.done = 0

    def update(self, event):
        if self.callback is not None:
            self.callback(event)
        elif self.bar is not None:
            self.bar.update(event["frames_done"] - self.done)
        elif self.enabled:
            print(f"\rtessera: {event['partitions_done']}/{event['partitions_total']} partitions",
                  end="", file=sys.stderr, flush=True)
        self.done = event["frames_done"]

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.callback is None:
            print(file=sys.stderr)


class Dataset:
    """An N-D dataset whose axes split into navigation and signal axes.

    Attributes: ``shape``, ``nav_shape``, ``sig_shape``, ``dtype``, ``axes`` (one
    :class:`Axis` per dimension), ``metadata`` (the file's own metadata as a dict), ``format``,
    ``path``. Frames are read lazily by :meth:`run`; :meth:`read` loads frames into memory.
    """

    def __init__(self, handle, source=None):
        self._handle = handle
        self._source = source  # the array or signal a dataset in memory shares memory with
        self._metadata = None

    shape = property(lambda self: self._handle.shape)
    nav_shape = property(lambda self: self._handle.nav_shape)
    sig_shape = property(lambda self: self._handle.sig_shape)
    dtype = property(lambda self: np.dtype(self._handle.dtype))
    format = property(lambda self: self._handle.format)
    path = property(lambda self: self._handle.path)
    files = property(lambda self: self._handle.files)
    ndim = property(lambda self: len(self.shape))
    nav_dims = property(lambda self: len(self.nav_shape))
    sig_dims = property(lambda self: len(self.sig_shape))

    @property
    def axes(self):
        return tuple(Axis.from_dict(a) for a in self._handle.axes)

    @property
    def metadata(self):
        if self._metadata is None:
            self._metadata = json.loads(self._handle.metadata_json)
        return self._metadata

    @property
    def num_frames(self):
        return int(np.prod(self.nav_shape, dtype=np.int64))

    def __repr__(self):
        nav = ", ".join(map(str, self.nav_shape))
        sig = ", ".join(map(str, self.sig_shape))
        return f"<tessera.Dataset {self.format} ({nav} | {sig}) {self.dtype} {self.path}>"

    def read(self, frames=None):
        """Read frames into memory, in the stored dtype: all of them in the dataset's shape, or
        ``frames=(begin, end)`` of the flattened navigation axis as ``(frames, *sig_shape)``."""
        if frames is None:
            data = self._handle.read(0, self.num_frames)
            return data.reshape(self.shape)
        begin, end = frames
        return self._handle.read(int(begin), int(end))

    def _start(self, analyses, roi, threads, partition_bytes, dark, gain, excluded_pixels,
               snapshots):
        single = not isinstance(analyses, (list, tuple, dict))
        if isinstance(analyses, dict):
            keys, items = list(analyses.keys()), list(analyses.values())
        else:
            items = [analyses] if single else list(analyses)
            keys = None
        names, specs = zip(*(_spec(item) for item in items)) if items else ((), ())
        if keys is None:
            keys = unique_keys(names)
        if roi is not None:
            roi = np.asarray(roi, dtype=bool)
            if roi.shape != tuple(self.nav_shape) and roi.size != self.num_frames:
                raise ValueError(f"roi shape {roi.shape} does not match nav shape {self.nav_shape}")
        excluded = []
        if excluded_pixels is not None:
            sig = self.sig_shape
            for p in excluded_pixels:
                excluded.append(int(np.ravel_multi_index(tuple(p), sig)) if np.ndim(p) else int(p))
        run = _tessera.Run(self._handle, list(specs), roi=roi, dark=dark, gain=gain,
                           excluded=excluded, threads=threads,
                           partition_bytes=int(partition_bytes or 0), snapshots=snapshots)
        return run, keys, single

    def run(self, analyses, *, roi=None, progress=False, threads=0, partition_bytes=None,
            dark=None, gain=None, excluded_pixels=None):
        """Run analyses in one pass over the data; return their results as NumPy arrays.

        ``analyses``: a name (``"sum"``), :func:`op` (with parameters), a :class:`UDF`
        instance, or a list (or dict ``{key: analysis}``) of these. One analysis returns its
        :class:`AnalysisResults` (result name -> array); a list returns :class:`Results` keyed
        by analysis name. ``roi``: boolean mask of the navigation shape. ``progress``: True for
        a progress bar, or a callable taking a progress dict. ``dark``/``gain`` (images of the
        signal shape) and ``excluded_pixels`` (flat or (y, x) indices) are corrections applied
        before any analysis sees a frame. Ctrl-C cancels the run (KeyboardInterrupt).
        """
        run, keys, single = self._start(analyses, roi, threads, partition_bytes, dark, gain,
                                        excluded_pixels, snapshots=False)
        display = _Progress(progress, self.num_frames) if progress else None
        try:
            while (event := run.next()) is not None:
                if display is not None:
                    display.update(event)
        finally:
            if display is not None:
                display.close()
        results = convert_results(keys, run.results())
        return results[0] if single else results

    def run_iter(self, analyses, *, roi=None, threads=0, partition_bytes=None, dark=None,
                 gain=None, excluded_pixels=None):
        """Like :meth:`run`, but yield :class:`Partial` results as partitions finish (for live
        plots; nav results not yet computed are NaN), the complete results last
        (``final=True``). A reader slower than the engine sees the latest state. Leaving the
        loop early cancels the run."""
        run, keys, single = self._start(analyses, roi, threads, partition_bytes, dark, gain,
                                        excluded_pixels, snapshots=True)
        last = None
        try:
            while (event := run.next()) is not None:
                last = event
                partial = convert_results(keys, event["partial"])
                yield Partial(partial[0] if single else partial, event["partitions_done"],
                              event["partitions_total"], event["frames_done"],
                              event["frames_total"], False)
            results = convert_results(keys, run.results())
            total = last or {"partitions_done": 0, "partitions_total": 0, "frames_done": 0,
                             "frames_total": 0}
            yield Partial(results[0] if single else results, total["partitions_done"],
                          total["partitions_total"], total["frames_done"], total["frames_total"],
                          True)
        finally:
            run.cancel()


def _is_hyperspy(obj):
    return hasattr(obj, "axes_manager") and hasattr(obj, "data")


def open(source, *, format=None, sig_dims=None, axes=None, metadata=None, **params) -> Dataset:
    """Open a dataset.

    ``source`` is a path (any registered format, detected from the file; ``format=`` forces
    one; other keywords are the format's parameters, e.g. ``nav_shape=(128, 128)``), a NumPy
    or Dask array (``sig_dims`` trailing signal axes, default 2; ``axes``: list of
    :class:`Axis` or dicts), or a HyperSpy signal (its axes and metadata are kept). NumPy
    memory is shared, not copied, when it is C-contiguous in native byte order.
    """
    if isinstance(source, (str, os.PathLike)):
        texts = {k: to_text(v, k) for k, v in params.items() if v is not None}
        if sig_dims is not None:
            texts["sig_dims"] = str(int(sig_dims))
        return Dataset(_tessera.open_file(os.fspath(source), texts, format or ""))
    if params:
        raise TypeError(f"unexpected keywords for an in-memory dataset: {sorted(params)}")
    if _is_hyperspy(source):
        from ._hyperspy import dataset_args

        array, sig_dims, axes, metadata = dataset_args(source)
    else:
        array = source.compute() if hasattr(source, "compute") else source
        array = np.asarray(array)
        if sig_dims is None:
            sig_dims = 2 if array.ndim >= 3 else 1
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    array = np.ascontiguousarray(array)
    if axes is not None:
        axes = [a.to_dict() if isinstance(a, Axis) else dict(a) for a in axes]
    meta_json = json.dumps(metadata or {}, default=str)
    return Dataset(_tessera.open_array(array, int(sig_dims), axes, meta_json), source=array)


def analyses():
    """Return every built-in analysis: name, summary, description, params, outputs."""
    return _tessera.analyses()


def formats():
    """Return every registered file format: name, extensions, summary, params."""
    return _tessera.formats()
