"""The Python API (`import edgesparse`): the README's examples run as written, in-memory
arrays and .tflite bytes are accepted, and the command line goes through the same functions."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgesparse
from toolchain.cli import main

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "tests" / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite"


def readme_example(name: str) -> str:
    """The ```python block after `<!-- example: NAME -->` in README.md."""
    text = (REPO / "README.md").read_text()
    m = re.search(rf"<!-- example: {re.escape(name)} -->\s*```python\n(.*?)```", text, re.S)
    assert m, f"README.md has no example {name!r}"
    return m.group(1)


def _run_example(name: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("EDGESPARSE_VERBOSE",)}
    return subprocess.run([sys.executable, "-c", readme_example(name)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_readme_tflite_example_runs(tmp_path):
    shutil.copyfile(VALID, tmp_path / "model.tflite")
    proc = _run_example("api-tflite", tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "256 MACs; supported"
    assert lines[-1] == "generated 0"
    report = json.loads((tmp_path / "out" / "model" / "report.json").read_text())
    assert report["mismatches"]["host_vs_reference"] == 0 and report["samples"]["host"] == 64
    assert proc.stderr == ""  # quiet by default


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.convert
def test_readme_keras_example_runs(tmp_path):
    proc = _run_example("api-keras", tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "keras" / "report.json").read_text())
    assert report["data"] == "arrays" and report["mismatches"]["host_vs_reference"] == 0
    assert report["accuracy"]["int8_host"] is not None
    assert 0.45 <= report["weights"]["nonzero"] / report["weights"]["params"] <= 0.55
    assert "arrays" in proc.stdout


def test_bytes_and_unlabelled_arrays(tmp_path):
    x = np.random.default_rng(0).random((10, 8, 8, 1)).astype(np.float64)  # cast to float32
    result = edgesparse.compile(VALID.read_bytes(), out=tmp_path / "o", data=(x,), name="valid")
    assert result.out == tmp_path / "o" and result.report["model"] == "valid"
    assert result.report["data"] == "arrays"
    result = edgesparse.run(result.out, on="host")
    assert result.mismatches["host_vs_reference"] == 0 and result.report["samples"]["host"] == 10
    assert result.report["accuracy"]["int8_host"] is None
    assert "arrays" in result.summary() and "FULLY_CONNECTED" in result.layers()
    with pytest.raises(edgesparse.Error, match="dtype int64; expected float32"):
        edgesparse.compile(VALID, out=tmp_path / "p", data=(np.zeros((2, 8, 8, 1), np.int64),))
    with pytest.raises(edgesparse.Error, match="expects inputs of shape"):
        edgesparse.compile(VALID, out=tmp_path / "p", data=np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="unknown options"):
        edgesparse.compile(VALID, out=tmp_path / "p", sparsty=0.5)
    assert not (tmp_path / "p").exists()


def test_the_command_line_calls_the_api(tmp_path, monkeypatch, capsys):
    calls = []
    for fn in ("compile", "run", "inspect"):
        real = getattr(edgesparse, fn)

        def spy(*args, _real=real, _fn=fn, **kwargs):
            calls.append(_fn)
            return _real(*args, **kwargs)

        monkeypatch.setattr(edgesparse, fn, spy)
    assert main(["inspect", str(VALID)]) == 0
    assert main(["compile", str(VALID), "--out", str(tmp_path / "o")]) == 0
    assert main(["run", str(tmp_path / "o")]) == 0
    assert calls == ["inspect", "compile", "run"]
