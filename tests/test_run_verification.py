"""`edgesparse run` fails (exit status 1, apart from user errors' 2) when any comparison it
records differs from the TFLM reference, names which one, and still writes report.json."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from toolchain import pipeline
from toolchain.cli import main

VALID = Path(__file__).resolve().parent / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("run_verification") / "m"
    assert main(["compile", str(VALID), "--out", str(out), "--data", "digits", "--name", "m"]) == 0
    return out


def test_host_mismatch_exits_1_naming_it_with_report_written(compiled, tmp_path,
                                                                     monkeypatch, capsys):
    out = tmp_path / "m"
    shutil.copytree(compiled, out)
    real = pipeline.reference

    def off_by_one(tflite, x, backend="tflm"):  # the seam: one reference byte differs
        ref = real(tflite, x, backend=backend).copy()
        if backend == "tflm":
            ref[0, 0] = np.int8(ref[0, 0] ^ 1)
        return ref

    monkeypatch.setattr(pipeline, "reference", off_by_one)
    assert main(["run", str(out), "--on", "host"]) == 1
    err = capsys.readouterr().err
    assert "edgesparse: error:" in err and "1 output bytes of the host build" in err
    assert "host_vs_reference" in err and "Traceback" not in err
    # the evidence is kept
    assert json.loads((out / "report.json").read_text())["mismatches"]["host_vs_reference"] == 1


def _qemu_report(**mismatches):
    return {"mismatches": {"host_vs_reference": 0, "qemu_vs_reference": 0,
                           "qemu_dense_vs_reference": 0, **mismatches}}


def test_every_qemu_comparison_counts():
    assert pipeline.mismatch_failures(_qemu_report(), "qemu") == []
    dense = pipeline.mismatch_failures(_qemu_report(qemu_dense_vs_reference=3), "qemu")
    assert dense == ["3 output bytes of the all-dense comparison build in QEMU "
                     "(mismatches.qemu_dense_vs_reference)"]
    chosen = pipeline.mismatch_failures(_qemu_report(qemu_vs_reference=2), "qemu")
    assert len(chosen) == 1 and "the QEMU build as compiled" in chosen[0]
    # a stale host figure does not fail a QEMU run, nor QEMU figures a host run
    assert pipeline.mismatch_failures(_qemu_report(host_vs_reference=5), "qemu") == []
    assert pipeline.mismatch_failures(_qemu_report(qemu_vs_reference=5), "host") == []


@pytest.mark.parametrize("compiled_mode,other", [("init", "stream"), ("stream", "init")])
def test_the_other_huffman_decode_mode_counts(compiled_mode, other):
    report = _qemu_report()
    report["huffman"] = {"decode": compiled_mode,
                         "modes": {compiled_mode: {"mismatches": 0}, other: {"mismatches": 7}}}
    assert pipeline.mismatch_failures(report, "qemu") == [
        f"7 output bytes of the Huffman decode-at-{other} build in QEMU "
        f"(huffman.modes.{other}.mismatches)"]
    report["huffman"]["modes"][other]["mismatches"] = 0
    assert pipeline.mismatch_failures(report, "qemu") == []


def test_run_on_qemu_exits_1_when_only_the_dense_build_differs(compiled, tmp_path, monkeypatch,
                                                               capsys):
    """The CLI path of a QEMU run, with run_qemu_target's result standing in for QEMU."""
    out = tmp_path / "m"
    shutil.copytree(compiled, out)

    def fake_qemu(path):
        report = json.loads((path / "report.json").read_text())
        report["mismatches"].update(qemu_vs_reference=0, qemu_dense_vs_reference=4)
        pipeline.write_json_atomic(path / "report.json", report)
        return report

    monkeypatch.setattr(pipeline, "run_qemu_target", fake_qemu)
    assert main(["run", str(out), "--on", "qemu"]) == 1
    assert "4 output bytes of the all-dense comparison build" in capsys.readouterr().err
