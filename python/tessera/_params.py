# SPDX-License-Identifier: MIT
"""Python values -> the text form of Tessera's parameters (as on the command line)."""

from __future__ import annotations

import numbers
import os

import numpy as np


def to_text(value, name: str = "") -> str:
    """Return the command-line text of a parameter value.

    ``True`` -> ``"true"``; ``(128, 128)`` -> ``"128,128"`` (shapes and lists); a list of strings
    (mask specifications) -> ``"disk:...;ring:..."``; a dtype -> its NumPy name.
    """
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, (np.dtype, type)):
        return np.dtype(value).name
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return ";".join(value)
        return ",".join(to_text(v, name) for v in value)
    if isinstance(value, np.ndarray) and value.ndim <= 1:
        return ",".join(to_text(v, name) for v in value.tolist())
    raise TypeError(f"parameter {name!r}: cannot pass a {type(value).__name__} as text")
