"""The kernel benchmark harness (benchmarks/run.py): its plan and goal arithmetic, and one small
real run (FC 784x300 on mps2-an386, dense and csr8 at 90% sparsity) through conversion,
build, QEMU and the bit-exactness check, run twice to show the counts are deterministic."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from requires import needs  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks import config, goals  # noqa: E402
from benchmarks.run import expand_jobs  # noqa: E402

needs_arm = needs("arm-none-eabi-gcc", "qemu-system-arm")

ROW_KEYS = {"op": str, "shape": str, "format": str, "board": str, "sparsity": float,
            "instructions": int, "bytes": int, "mismatches": int, "nonzero": int}


def test_parse_shape_reference_shapes():
    fc = config.parse_shape("784x300")
    assert (fc.op, fc.input_shape, fc.units, fc.macs) == ("fully_connected", (784,), 300, 235_200)
    conv = config.parse_shape("12x12x20-5x5x50-valid")
    assert (conv.op, conv.input_shape, conv.kernel, conv.padding) == ("conv2d", (12, 12, 20), (5, 5), "valid")
    assert conv.macs == 8 * 8 * 50 * 25 * 20
    assert config.parse_shape("16x16x16-3x3x16-same").macs == 16 * 16 * 16 * 9 * 16
    for bad in ("784", "12x12x20-5x5x50", "4x4x1-5x5x2-valid"):
        with pytest.raises(ValueError):
            config.parse_shape(bad)
    assert set(config.CMSIS_NN) == set(config.SHAPES)


def test_dense_is_measured_with_and_without_dsp():
    class Case:
        shape = config.parse_shape("784x300")
        pattern = config.Pattern("unstructured", 0.9)

    class Board:
        def __init__(self, name, dsp):
            self.name, self.dsp = name, dsp

    m3, m4 = Board("mps2-an385", False), Board("mps2-an386", True)
    jobs = expand_jobs(Case, ["dense", "csr8"], [m3, m4], None)
    got = [(j.board, j.format, j.label, j.defines) for j in jobs]
    assert got == [("mps2-an385", "dense", "dense_c", ()), ("mps2-an385", "csr8", "csr8", ()),
                   ("mps2-an386", "dense", "dense_dsp", ()),
                   ("mps2-an386", "dense", "dense_c", ("ES_DISABLE_DSP",)),
                   ("mps2-an386", "csr8", "csr8", ())]
    only = expand_jobs(Case, ["dense", "csr8"], [m4], ["dense_c"])
    assert [j.label for j in only] == ["dense_c"]


def _row(fmt, s, n, board="mps2-an386", pattern="unstructured", mism=0):
    return {"board": board, "shape": "784x300", "pattern": pattern, "sparsity": s, "format": fmt,
            "instructions": n, "bytes": 1000, "mismatches": mism}


def test_break_even_interpolates_the_fastest_bit_exact_sparse_format():
    rows = [_row("dense_dsp", 0.5, 300), _row("csr8", 0.5, 600), _row("csr16", 0.5, 500),
            _row("csr8", 0.8, 300), _row("csr16", 0.8, 200, mism=3)]
    # fastest bit-exact: 500 at 50%, 300 at 80%; 400 is crossed halfway
    assert goals.break_even(rows, "mps2-an386", "784x300", 400) == pytest.approx(0.65)
    assert goals.break_even(rows, "mps2-an386", "784x300", 600) == 0.5
    assert goals.break_even(rows, "mps2-an386", "784x300", 100) is None
    by_title = {g.title: g for g in goals.evaluate(rows)}
    exact = next(g for t, g in by_title.items() if t.startswith("Every kernel is bit-exact"))
    assert exact.status == goals.NOT_MET


@pytest.mark.qemu
@pytest.mark.slow
@needs_arm
def test_quick_run_fc_dense_vs_csr8(tmp_path):
    def run(results: Path, *extra: str) -> list[dict]:
        cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--quick",
               "--boards", "mps2-an386", "--shapes", "784x300", "--formats", "dense,csr8",
               "--sparsities", "0.9", "--results", str(results), "--doc", str(tmp_path / "BENCHMARKS.md"),
               "--work", str(tmp_path / "work"), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(results.read_text())

    rows = run(tmp_path / "results.json")
    assert {r["format"] for r in rows} == {"dense_dsp", "dense_c", "csr8"}
    for r in rows:
        for key, kind in ROW_KEYS.items():
            assert isinstance(r[key], kind), (key, r)
        assert (r["op"], r["shape"], r["board"], r["sparsity"]) == \
            ("fully_connected", "784x300", "mps2-an386", 0.9)
        assert r["mismatches"] == 0
        assert r["instructions"] > 0 and r["bytes"] > 0
        assert r["params"] == 784 * 300 and r["nonzero"] <= round(0.1 * 784 * 300)
    by = {r["format"]: r for r in rows}
    assert by["dense_c"]["bytes"] == 784 * 300
    assert by["csr8"]["instructions"] < by["dense_c"]["instructions"]
    assert by["csr8"]["bytes"] < by["dense_c"]["bytes"]
    doc = (tmp_path / "BENCHMARKS.md").read_text()
    assert "| csr8 |" in doc and (tmp_path / "img" / "bench_mps2-an386.png").stat().st_size > 0

    again = run(tmp_path / "results2.json", "--fresh")
    assert [(r["format"], r["instructions"]) for r in again] == \
        [(r["format"], r["instructions"]) for r in rows]
