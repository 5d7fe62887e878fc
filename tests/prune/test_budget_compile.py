"""compile --compress max end to end on a briefly trained MLP: the search's report, the stage
table, the per-layer TOML and the kept model agree with each other."""
import json

import numpy as np
import pytest

from toolchain.cli import main


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_compile_compress_max(mlp_path, tmp_path, capsys):
    from toolchain.models.train import load_keras_model
    from toolchain.prune.budget import BudgetAttempt, chosen
    from toolchain.prune.config import build_config

    out = tmp_path / "cm"
    assert main(["compile", str(mlp_path), "--data", "digits28", "--compress", "max",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    b = report["accuracy_budget"]
    assert b["max_accuracy_drop"] == 1.0 and report["optimize"] == "compact"
    assert [s["stage"] for s in b["stages"]] == ["float32", "pruned", "shared", "huffman"]
    sizes = [s["bytes"] for s in b["stages"]]
    assert sizes == sorted(sizes, reverse=True) and sizes[1] < sizes[0]
    assert b["bytes_total"] == report["compression"]["bytes_total"]
    assert b["stages"][3]["test_accuracy"] == report["accuracy"]["int8_reference"]
    attempts = [BudgetAttempt(**{k: v for k, v in a.items() if k != "drop_points"})
                for a in b["attempts"]]
    assert 1 <= len(attempts) <= b["attempts_max"]
    assert b["chosen_attempt"] == chosen(attempts, 1.0) + 1
    kept = attempts[b["chosen_attempt"] - 1]
    assert b["within_budget"] == kept.within(1.0)
    assert kept.blob_bytes == b["bytes_total"]
    assert b["sparsity"] == kept.sparsity and b["codebook_bits"] == report["sharing"]["bits"]
    assert "huffman" in printed and f"{b['bytes_total']:,}" in printed
    config = build_config({}, None, out / b["config"])
    pruned = load_keras_model(out / "pruned.keras")
    for name, s in kept.sparsity.items():
        if s > 0:
            assert config.layers[name].sparsity == s
        kernel = pruned.get_layer(name).kernel.numpy()
        assert np.mean(kernel == 0) == pytest.approx(s, abs=0.02)
    assert not list(out.glob(".attempt*"))
