# SPDX-License-Identifier: MIT
"""User-defined functions in Python, run by the C++ engine (LiberTEM's UDF interface)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from . import _tessera


class BufferDecl(NamedTuple):
    """A result buffer as declared by :meth:`UDF.buffer`."""

    kind: str
    extra_shape: tuple
    dtype: np.dtype
    private: bool


class DatasetShape(tuple):
    """The dataset's full shape, with ``.nav`` and ``.sig`` parts (as LiberTEM's ``Shape``)."""

    def __new__(cls, dims, sig_dims):
        out = super().__new__(cls, dims)
        out.sig_dims = sig_dims
        return out

    @property
    def nav(self):
        return tuple(self[: len(self) - self.sig_dims])

    @property
    def sig(self):
        return tuple(self[len(self) - self.sig_dims:])


class UDF:
    """Base class of Python UDFs: map-reduce over a dataset, driven by the C++ runner.

    Subclasses declare their buffers in :meth:`get_result_buffers` with :meth:`buffer`, and
    implement one of ``process_tile(tile)``, ``process_frame(frame)`` or
    ``process_partition(partition)``, writing into ``self.results.<name>`` (NumPy views of the
    current tile's rows of ``nav`` buffers, the tile's signal band of ``sig`` buffers, and the
    whole of ``single`` buffers). ``merge(dest, src)`` folds partitions (default: sum of the
    ``sig`` and ``single`` buffers; ``nav`` rows are placed by the engine). ``preprocess()``
    may initialise a partition's buffers (default: zeros).

    Tiles are read-only NumPy views of shape ``(frames, rows, *rest of the frame)``, valid only
    during the call; frames ``(sy, sx)``; partitions ``(frames, sy, sx)``. Reading, decoding and
    corrections happen in C++ without the GIL; each call into Python takes it.

    The interface is LiberTEM's: the same class body runs under both (``self.params``,
    ``self.meta.dataset_shape.sig``, ``get_preferred_input_dtype``, ``USE_NATIVE_DTYPE``).
    """

    USE_NATIVE_DTYPE = bool

    def __init__(self, **kwargs):
        self.params = SimpleNamespace(**kwargs)
        self.meta = None

    # -- to override -----------------------------------------------------------------------

    def get_result_buffers(self):
        """Return ``{name: self.buffer(...)}``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_result_buffers()")

    def get_preferred_input_dtype(self):
        """Return the dtype tiles should have (``self.USE_NATIVE_DTYPE``: the file's own)."""
        return np.float32

    def get_tiling_preferences(self):
        """Return ``{"depth": frames per tile, "total_size": bytes per tile}`` (either may be
        left out; defaults: 32 frames, 1 MiB)."""
        return {}

    # -- helpers ---------------------------------------------------------------------------

    def buffer(self, kind, extra_shape=(), dtype="float32", where=None, use=None):
        """Declare a result buffer: ``kind`` is ``"nav"``, ``"sig"`` or ``"single"``.

        ``use="private"`` keeps it out of the results (intermediate state). ``where`` is
        accepted for LiberTEM compatibility and must be None.
        """
        if kind not in ("nav", "sig", "single"):
            raise ValueError(f"buffer kind must be 'nav', 'sig' or 'single', not {kind!r}")
        if where is not None:
            raise ValueError("buffer(where=...) is not supported")
        if isinstance(extra_shape, int):
            extra_shape = (extra_shape,)
        return BufferDecl(kind, tuple(int(e) for e in extra_shape), np.dtype(dtype),
                          use == "private")

    @property
    def results(self):
        """NumPy views of the result buffers for the current call (``self.results.name``)."""
        return _tessera._current_results()

    @property
    def name(self):
        return type(self).__name__

    # -- the engine's side ----------------------------------------------------------------

    def _tessera_name(self):
        return str(self.name)

    def _tessera_method(self):
        for method in ("tile", "frame", "partition"):
            if callable(getattr(self, f"process_{method}", None)):
                return method
        raise TypeError(
            f"{type(self).__name__} implements none of process_tile, process_frame, "
            "process_partition")

    def _tessera_tiling(self):
        prefs = self.get_tiling_preferences() or {}
        depth, total = prefs.get("depth"), prefs.get("total_size")
        ok = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0  # noqa: E731
        return (int(depth) if ok(depth) else 32, int(total) if ok(total) else 1 << 20)

    def _tessera_input_dtype(self, native):
        preferred = self.get_preferred_input_dtype()
        if preferred is bool and self.USE_NATIVE_DTYPE is bool:
            return native
        return np.dtype(preferred).name

    def _tessera_prepare(self, dims, sig_dims, dataset_dtype, input_dtype, roi):
        self.meta = SimpleNamespace(
            dataset_shape=DatasetShape(dims, sig_dims),
            dataset_dtype=np.dtype(dataset_dtype),
            input_dtype=np.dtype(input_dtype),
            roi=roi,
        )
        buffers = self.get_result_buffers()
        out = []
        for name, decl in buffers.items():
            if not isinstance(decl, BufferDecl):
                raise TypeError(f"buffer {name!r}: declare it with self.buffer(...)")
            out.append((name, decl.kind, decl.extra_shape, decl.dtype.name, decl.private))
        return out

    def _tessera_merge(self):
        return self.merge if callable(getattr(type(self), "merge", None)) else None

    def _tessera_preprocess(self):
        return self.preprocess if callable(getattr(type(self), "preprocess", None)) else None
