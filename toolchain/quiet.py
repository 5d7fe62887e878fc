"""Quiet by default: edgesparse prints its own lines only.

TensorFlow 2.21 writes its C++ start-up log (oneDNN, the CUDA probe, absl's "All log messages
before absl::InitializeLog()") straight to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says,
and its converter and the interpreters print from C++ too, so Python-level filters cannot
catch them: `silenced()` points fds 1 and 2 at a temporary file around those calls instead.
`install()` (run by `import toolchain`) wraps the first `import tensorflow` that way, then
initialises TensorFlow's devices under the same cover (the CPU-feature and cuInit lines come
at first use, not at import) and lowers its Python loggers to errors.

Verbose mode (`edgesparse -v`, or EDGESPARSE_VERBOSE=1) turns all of this off.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager

VERBOSE = os.environ.get("EDGESPARSE_VERBOSE", "") not in ("", "0")
_QUIET_MODULES = ("tensorflow",)


def set_verbose(flag: bool) -> None:
    """Verbose: third-party logs and warnings pass through (must come before TensorFlow is
    imported to show its start-up log)."""
    global VERBOSE
    VERBOSE = bool(flag)
    if VERBOSE and os.environ.get("_EDGESPARSE_SET_TF_LOG_LEVEL"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


@contextmanager
def silenced():
    """Output written to fds 1 and 2 (C/C++ code included) and Python warnings inside the
    block are dropped, unless verbose."""
    if VERBOSE:
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError):
            pass
    saved = []
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no such descriptors (an embedded interpreter): nothing to redirect
        for fd in saved:
            os.close(fd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
        return
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (AttributeError, ValueError):
                    pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            global _last
            sink.seek(0)
            _last = sink.read()[-4000:].decode("utf-8", "replace")


_last = ""


def last_output() -> str:
    """What the last silenced() block printed (its last 4000 bytes): the detail a library
    printed before raising, for an error message."""
    return _last


def quiet_python_logs() -> None:
    """TensorFlow's, Keras' and absl's Python loggers to errors only; warnings off (unless
    verbose). The CLI calls this for the whole command."""
    if VERBOSE:
        return
    warnings.simplefilter("ignore")
    for name in ("tensorflow", "absl", "tf_keras", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow inside silenced() the first time anything imports it."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _QUIET_MODULES:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        if VERBOSE:
            return None
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            with silenced():
                run(module)
                _initialise(module)
            for name in ("tensorflow", "absl"):
                logging.getLogger(name).setLevel(logging.ERROR)

        spec.loader.exec_module = exec_module
        return spec


def _initialise(tf) -> None:
    """Device discovery and the first op, whose log lines would otherwise come later."""
    try:
        tf.config.list_physical_devices()
        tf.constant(0) + 0
    except Exception:  # noqa: BLE001 (start-up chatter only; real failures resurface on use)
        pass


def install() -> None:
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())
