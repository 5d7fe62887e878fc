"""Tests that need an external tool say so through here, so that a missing tool is a skip on a
developer's machine and a failure naming the tool under CI=true (tests/conftest.py turns every
skip whose reason starts with MISSING into a failure there)."""
from __future__ import annotations

import shutil

import pytest

MISSING = "missing tool:"


def missing(*tools: str) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


def reason(tools: list[str]) -> str:
    return f"{MISSING} {', '.join(tools)} (scripts/bootstrap.sh installs it)"


def needs(*tools: str):
    """A mark that skips the test when any of `tools` is not on PATH."""
    absent = missing(*tools)
    return pytest.mark.skipif(bool(absent), reason=reason(absent))


def require(*tools: str) -> None:
    """Inside a test or fixture: skip it when any of `tools` is not on PATH."""
    absent = missing(*tools)
    if absent:
        pytest.skip(reason(absent))
