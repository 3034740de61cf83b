# SPDX-License-Identifier: MIT
"""Tessera: electron-microscopy detector data from NumPy and Jupyter.

>>> import tessera as ts
>>> ds = ts.open("scan.mib")
>>> res = ds.run(["sum", ts.op("virtual-detector", masks=["ring:63.5,63.5,20,50"]), "com"])
>>> res["virtual-detector"]["intensity"]          # a NumPy array over the result buffer

See docs/python.md for Python UDFs, pipelines and HyperSpy round trips.
"""

from . import _tessera
from ._dataset import Analysis, Dataset, Partial, analyses, formats, op, open
from ._hyperspy import to_hyperspy
from ._pipeline import Pipeline, PipelineResult, Table, pipeline_operators
from ._results import AnalysisResults, Axis, ResultArray, Results
from ._udf import UDF, BufferDecl
from .errors import (
    CancelledError,
    CorruptFileError,
    InternalError,
    InvalidArgumentError,
    IoError,
    NotFoundError,
    OutOfMemoryError,
    TesseraError,
    UnsupportedError,
)

__version__ = _tessera.__version__

__all__ = [
    "Analysis", "AnalysisResults", "Axis", "BufferDecl", "CancelledError", "CorruptFileError",
    "Dataset", "InternalError", "InvalidArgumentError", "IoError", "NotFoundError",
    "OutOfMemoryError", "Partial", "Pipeline", "PipelineResult", "ResultArray", "Results",
    "Table", "TesseraError", "UDF", "UnsupportedError", "analyses", "formats", "op", "open",
    "pipeline_operators", "to_hyperspy",
]
