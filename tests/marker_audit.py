"""Keeps the pytest markers true: while a test (or a fixture it uses) runs, this plugin notes
whether it trains a Keras model (`train`), converts one to .tflite (`convert`), builds
Cortex-M firmware (`firmware`) or runs QEMU (`qemu`), and fails a passing test that did so
without the marker. A fixture's uses count for every test that requests it, since each of
them would do that work when run alone.

ES_MARKER_AUDIT=PATH writes what every test used to PATH (JSON) as well."""
from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

CAPABILITIES = ("train", "convert", "firmware", "qemu")
_lock = threading.Lock()
_current: set[str] = set()
_record: dict[str, dict] = {}


def _note(cap: str) -> None:
    with _lock:
        _current.add(cap)


def _capabilities_of_command(args) -> set[str]:
    argv = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
    if not argv or argv[1:] == ["--version"]:  # asking a tool its version builds and runs nothing
        return set()
    tool = os.path.basename(argv[0])
    if tool.startswith("arm-none-eabi-gcc") or tool == "cmake" or \
            (tool == "make" and any("firmware" in a for a in argv)):
        return {"firmware"}
    if tool.startswith("qemu-system-arm"):
        return {"qemu"}
    return set()


def install() -> None:
    """Wraps Keras' fit, the TFLite converter and subprocess creation (once per session)."""
    import tf_keras
    from tensorflow.lite.python import convert as tflite_convert

    fit = tf_keras.Model.fit

    def audited_fit(self, *args, **kwargs):
        _note("train")
        return fit(self, *args, **kwargs)

    tf_keras.Model.fit = audited_fit

    convert = tflite_convert.convert

    def audited_convert(*args, **kwargs):
        _note("convert")
        return convert(*args, **kwargs)

    tflite_convert.convert = audited_convert

    popen_init = subprocess.Popen.__init__

    def audited_popen_init(self, args, *rest, **kwargs):
        for cap in _capabilities_of_command(args):
            _note(cap)
        popen_init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = audited_popen_init


def _swap(new: set[str]) -> set[str]:
    global _current
    with _lock:
        old, _current = _current, new
    return old


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    outer = _swap(set())
    yield
    used = _swap(outer)
    if used:
        fixturedef._es_capabilities = getattr(fixturedef, "_es_capabilities", set()) | used
        with _lock:
            _current.update(used)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _swap(set())
    yield
    item._es_capabilities = _swap(set())


def used_by(item) -> set[str]:
    used = set(getattr(item, "_es_capabilities", set()))
    for defs in item._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:
            used |= getattr(fixturedef, "_es_capabilities", set())
    return used


def check(item, report) -> None:
    """Called from conftest's makereport for the call phase."""
    used = used_by(item)
    marked = {m.name for m in item.iter_markers()}
    missing = sorted(used - marked)
    if os.environ.get("ES_MARKER_AUDIT"):
        _record[item.nodeid] = {"used": sorted(used), "marked": sorted(marked & set(CAPABILITIES)),
                                "missing": missing}
    if missing and report.passed:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} uses {', '.join(missing)} without the marker: add "
                           + ", ".join(f"@pytest.mark.{m}" for m in missing)
                           + " (tests/marker_audit.py)")


def write_record() -> None:
    path = os.environ.get("ES_MARKER_AUDIT")
    if path:
        with open(path, "w") as f:
            json.dump(_record, f, indent=1, sort_keys=True)
