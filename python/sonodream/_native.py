"""The extension, errors, the log hook and the progress callback.

Everything here is per call or per thread, except the log hook: the library
has one (sono_log_set is process-wide), and it is routed once, on import, to
the `sonodream` logger of Python's logging.
"""
import atexit
import logging
import threading

import numpy as np

from ._sonodream import ffi, lib

logger = logging.getLogger("sonodream")


class Error(Exception):
    """A failure of the library (its message as is) or a bad argument.

    `status` names the library's status: "I/O error", "bad format",
    "bad argument", "out of memory", "unsupported", "interrupted".
    """

    def __init__(self, message, status="bad argument"):
        super().__init__(message)
        self.status = status


class Interrupted(Error):
    """A dream stopped because its progress callback returned True."""


def new_error():
    return ffi.new("sono_error *")


def check(status, err):
    """Raise Error with the library's message unless status is SONO_OK."""
    if status == lib.SONO_OK:
        return
    message = ffi.string(err.message).decode("utf-8", "replace")
    name = ffi.string(lib.sono_status_name(status)).decode()
    cls = Interrupted if status == lib.SONO_ERR_INTERRUPTED else Error
    raise cls(message or name, name)


def text(c_string):
    return ffi.string(c_string).decode("utf-8", "replace")


# ---- memory the library allocated, seen by numpy without a copy ----

class _CArray:
    """The base of a numpy array over library memory: it holds `keep` (an
    ffi.gc'd pointer whose destructor frees the memory) for as long as the
    array, or any view of it, lives."""

    def __init__(self, address, shape, typestr, keep, readonly):
        self.__array_interface__ = {"shape": tuple(shape), "typestr": typestr,
                                    "data": (address, readonly), "version": 3}
        self.keep = keep


def owned_array(pointer, shape, keep, typestr="<f4", readonly=False):
    """A numpy array of `shape` over `pointer`, keeping `keep` alive."""
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=np.dtype(typestr))
    address = int(ffi.cast("uintptr_t", pointer))
    return np.asarray(_CArray(address, shape, typestr, keep, readonly))


def malloc_array(pointer, shape, typestr="<f4"):
    """A numpy array that owns a buffer the library malloc'd (free()d when
    the array is garbage)."""
    return owned_array(pointer, shape, ffi.gc(pointer, lib.free), typestr)


# ---- the log hook ----

_LEVELS = {lib.SONO_LOG_DEBUG: logging.DEBUG, lib.SONO_LOG_INFO: logging.INFO,
           lib.SONO_LOG_WARN: logging.WARNING, lib.SONO_LOG_ERROR: logging.ERROR}


@ffi.def_extern()
def sonopy_log(level, message, user):
    logger.log(_LEVELS.get(level, logging.INFO), "%s", text(message))


def _route_log():
    lib.sono_log_set(lib.sonopy_log, ffi.NULL)
    # The interpreter is going away: the library must not call into it.
    atexit.register(lib.sono_log_set, ffi.NULL, ffi.NULL)


_route_log()


# ---- progress and Ctrl-C ----

# An exception raised in a callback (KeyboardInterrupt from Ctrl-C included)
# cannot cross the C library; it is kept here, for the thread that made the
# call, and raised there when the call returns.
_pending = threading.local()


def _keep_exception(exc_type, exc_value, traceback):
    _pending.exception = exc_value
    return 1  # stop the library's work


class Progress:
    """The state of one long call: the user's callback. A handle to it
    (ffi.new_handle) is the callback's `user` pointer."""

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        _pending.exception = None
        return self

    def __exit__(self, *exc):
        _pending.exception = None
        return False

    def raise_pending(self):
        """After the call: re-raise what a callback raised (Ctrl-C included)."""
        exception, _pending.exception = getattr(_pending, "exception", None), None
        if exception is not None:
            raise exception


@ffi.def_extern(error=1, onerror=_keep_exception)
def sonopy_progress(step, total, objective, user):
    # Running Python here is what lets a pending Ctrl-C surface: the signal
    # handler raises KeyboardInterrupt in this frame, _keep_exception keeps it
    # and the library is told to stop.
    progress = ffi.from_handle(user)
    if progress.callback is not None and progress.callback(step, total, objective):
        return 1
    return 0
