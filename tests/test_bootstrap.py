"""scripts/bootstrap.sh and what README.md says about it agree: the Debian packages it installs,
the Python range (pyproject.toml's requires-python, the one place it is written), and a PYTHON
outside that range is refused, naming the range, before anything is installed."""
from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP = REPO / "scripts" / "bootstrap.sh"


def _bootstrap_packages() -> list[str]:
    """The PACKAGES=( ... ) array of bootstrap.sh, comments stripped."""
    text = BOOTSTRAP.read_text(encoding="utf-8")
    body = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M)
    assert body, "scripts/bootstrap.sh has no PACKAGES=( ... ) array"
    return " ".join(line.split("#", 1)[0] for line in body.group(1).splitlines()).split()


def _readme_packages() -> list[str]:
    """The indented line that follows "the Debian packages" in README.md's set-up section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"the Debian packages\n\n((?:    \S.*\n)+)", text)
    assert found, "README.md: no indented package list after 'the Debian packages'"
    return found.group(1).split()


def _python_range() -> tuple[int, int]:
    """(LO, HI) of requires-python = ">=3.LO,<3.HI", the form bootstrap.sh reads."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^requires-python *= *">=3\.(\d+), *<3\.(\d+)" *$', text, re.M)
    assert found, 'pyproject.toml: requires-python is not ">=3.X,<3.Y" (bootstrap.sh parses that form)'
    return int(found.group(1)), int(found.group(2))


def test_readme_lists_exactly_the_packages_bootstrap_installs():
    packages = _bootstrap_packages()
    assert len(packages) == len(set(packages)), f"PACKAGES repeats a name: {packages}"
    assert {"make", "gcc", "python3-venv", "gcc-arm-none-eabi", "qemu-system-arm"} <= set(packages)
    assert _readme_packages() == packages


def test_readme_states_the_python_range_of_pyproject():
    lo, hi = _python_range()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"needs Python 3.{lo} to 3.{hi - 1}," in readme


def test_the_oracle_is_pinned():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^\s*"tflite-micro==[^",;]+",', text, re.M), "tflite-micro must be pinned with =="


def test_python_outside_the_range_is_refused_before_installing_anything(tmp_path):
    lo, hi = _python_range()
    for minor in (lo - 1, hi):
        fake = tmp_path / f"python3.{minor}"
        # answers bootstrap's range probe as that version would (prints it, exits 1: out of range)
        fake.write_text(f'#!/bin/sh\ncase "$1" in --version) echo "Python 3.{minor}.0";;\n'
                        f'*) echo "3.{minor}.0"; exit 1;; esac\n')
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
        env = {**os.environ, "PYTHON": str(fake)}
        proc = subprocess.run(["bash", str(BOOTSTRAP)], capture_output=True, text=True, env=env,
                              timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"Python 3.{minor}.0; edgesparse needs Python 3.{lo} to 3.{hi - 1}" in proc.stderr
        assert "installing" not in proc.stdout and "pip install" not in proc.stdout
