"""The field models (published int8 .tflite files, benchmarks/field.py) compile with no flag
beyond the board and match TFLM byte for byte on generated inputs, on the host and in QEMU.

They live outside the repository: FIELD_MODELS_DIR, else ../shared/field-models beside it.
Absent, these tests skip, except under CI=true, where the folder must exist."""
import json
import os

import pytest

from benchmarks.field import BOARD, MODELS, models_dir
from toolchain.cli import main

FOLDER = models_dir(None)
QEMU_FAST = "ad01_int8.tflite"  # the fewest instructions per inference of the three


def _folder():
    if FOLDER is None or not FOLDER.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no field-models folder: set FIELD_MODELS_DIR")
        pytest.skip("no field-models folder (set FIELD_MODELS_DIR)")
    return FOLDER


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """file name -> output directory, compiled once per model with only --board."""
    done = {}

    def get(name):
        if name not in done:
            out = tmp_path_factory.mktemp("field") / name.split(".")[0]
            assert main(["compile", str(_folder() / name), "--out", str(out), "--board", BOARD]) == 0
            done[name] = out
        return done[name]

    return get


@pytest.mark.parametrize("name", list(MODELS))
def test_field_model_compiles_as_shipped_and_is_bit_exact_on_host(name, compiled, capsys):
    out = compiled(name)
    assert main(["run", str(out), "--on", "host"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == "generated" and report["samples"]["host"] == 64
    assert report["mismatches"]["host_vs_reference"] == 0


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == QEMU_FAST else [pytest.mark.slow])
                                  for n in MODELS])
def test_field_model_is_bit_exact_in_qemu(name, compiled, capsys):
    out = compiled(name)
    assert main(["run", str(out), "--on", "qemu"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["mismatches"]["qemu_vs_reference"] == 0
    assert report["mismatches"]["qemu_dense_vs_reference"] == 0
    assert report["instructions_per_inference"] > 0


def test_field_doc_renders_from_its_json():
    """docs/FIELD.md is benchmarks/field.json rendered (what `make docs` checks too)."""
    from pathlib import Path

    from benchmarks.field import DOC, RESULTS, render

    if not RESULTS.is_file():
        pytest.skip("benchmarks/field.json not written yet (make field)")
    assert Path(DOC).read_text() == render(RESULTS)
    data = json.loads(RESULTS.read_text())
    assert {m["file"] for m in data["models"]} == set(MODELS)
    assert all(m["mismatches"]["host"] == 0 and m["mismatches"]["qemu"] == 0 for m in data["models"])
