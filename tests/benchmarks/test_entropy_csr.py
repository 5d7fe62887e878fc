"""benchmarks/entropy_csr.py (make entropy-csr): a pruned model compiled --optimize size
without and with --huffman, both run in QEMU against TFLM; its docs section; its errors."""
import json

import pytest
from requires import require

from benchmarks import entropy_csr


def test_unknown_model_and_bad_sparsity_exit_2(tmp_path, capsys):
    assert entropy_csr.main(["--models", "no_such", "--results", str(tmp_path / "r.json")]) == 2
    assert "no_such" in capsys.readouterr().err
    assert entropy_csr.main(["--sparsities", "lots", "--results", str(tmp_path / "r.json")]) == 2
    assert "--sparsities" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_section_renders_every_row_and_its_mismatches():
    build = {"blob_bytes": 1000, "weight_bytes": 800, "instructions": 5000, "arena_bytes": 100,
             "kept_ram_bytes": 0, "mismatches": 0, "formats": {"csr8": 2}}
    rows = [{"model": m, "sparsity": 0.8, "gzip9_tflite_bytes": 900, "raw": build,
             "huffman": {**build, "blob_bytes": 700, "kept_ram_bytes": 640, "mismatches": k}}
            for m, k in (("a", 0), ("b", 3))]
    text = entropy_csr.render_section({"board": "mps2-an386", "rows": rows})
    lines = [line for line in text.splitlines() if line.startswith("| a ") or line.startswith("| b ")]
    assert len(lines) == 2 and "| 30.0% |" in lines[0] and lines[1].endswith("| 3 |")
    assert entropy_csr.render_section(None) == ""


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
def test_lenet5_at_90_percent_is_smaller_with_huffman_and_exact(tmp_path):
    require("arm-none-eabi-gcc", "qemu-system-arm")
    out = tmp_path / "r.json"
    assert entropy_csr.main(["--models", "lenet5", "--sparsities", "0.9", "--results", str(out),
                             "--work", str(tmp_path / "work")]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["raw"]["mismatches"] == 0 and row["huffman"]["mismatches"] == 0
    assert row["huffman"]["blob_bytes"] < row["raw"]["blob_bytes"]
    assert "csr8+huffman" in row["huffman"]["formats"] and row["huffman"]["kept_ram_bytes"] > 0
