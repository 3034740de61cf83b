# SPDX-License-Identifier: MIT
"""Tessera's errors as Python exceptions: one class per ``ErrorCode``, carrying its context.

Every error raised by the engine is a :class:`TesseraError`. The subclass says what kind of
error it is (``CorruptFileError`` for bad bytes in a file, ``InvalidArgumentError`` for a bad
parameter, ...) and also derives from the matching built-in exception where one exists, so
``except FileNotFoundError`` and ``except ValueError`` keep working.
"""

from __future__ import annotations


class TesseraError(Exception):
    """An error of the Tessera engine.

    Attributes: ``code`` (``"corrupt_file"``, ...), ``message`` (without context), ``file``,
    ``offset`` (byte offset in ``file`` or ``None``), ``field`` (header field or parameter),
    ``node`` and ``port`` (pipeline node and port). Unknown context is ``""`` / ``None``.
    """

    code = "internal"

    def __init__(self, text="", *, message=None, file="", offset=None, field="", node="", port=""):
        super().__init__(text)
        self.message = text if message is None else message
        self.file = file
        self.offset = offset
        self.field = field
        self.node = node
        self.port = port

    def __reduce__(self):  # picklable across processes with its context
        return (_rebuild, (type(self), str(self), self.__dict__))


def _rebuild(cls, text, state):
    err = cls.__new__(cls)
    Exception.__init__(err, text)
    err.__dict__.update(state)
    return err


class InvalidArgumentError(TesseraError, ValueError):
    code = "invalid_argument"


class NotFoundError(TesseraError, FileNotFoundError):
    code = "not_found"


class IoError(TesseraError, OSError):
    code = "io"


class CorruptFileError(TesseraError):
    code = "corrupt_file"


class UnsupportedError(TesseraError):
    code = "unsupported"


class CancelledError(TesseraError):
    code = "cancelled"


class OutOfMemoryError(TesseraError, MemoryError):
    code = "out_of_memory"


class InternalError(TesseraError):
    code = "internal"


#: ErrorCode (C++ enumerator order) -> exception class.
BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        IoError,
        CorruptFileError,
        UnsupportedError,
        CancelledError,
        OutOfMemoryError,
        InternalError,
    )
}
