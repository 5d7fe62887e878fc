"""`edgesparse prune`, `sweep` and `compile`'s pruning options: contracts and user errors."""
import json

import numpy as np
import pytest

from toolchain.cli import _prune_config, build_parser, main

LAYER_KEYS = {"name", "sparsity", "granularity", "method", "skipped", "units_before", "units_after"}


def test_compile_without_pruning_options_keeps_the_demo_path():
    args = build_parser().parse_args(["compile", "m.keras", "--out", "o", "--sparsity", "0.7"])
    assert _prune_config(args, require_sparsity=False) is None
    args = build_parser().parse_args(["compile", "m.keras", "--out", "o", "--epochs", "2"])
    assert _prune_config(args, require_sparsity=False) is None
    args = build_parser().parse_args(["compile", "m.keras", "--out", "o", "--granularity", "nm:2:4",
                                      "--layer", "fc1:skip"])
    config = _prune_config(args, require_sparsity=False)
    assert str(config.granularity) == "nm:2:4" and config.layers["fc1"].skip
    assert config.sparsity == 0.8 and config.epochs == 4


@pytest.mark.train
@pytest.mark.slow
def test_prune_command_with_a_config_file(cnn_path, tmp_path, capsys):
    cfg = tmp_path / "prune.toml"
    cfg.write_text('[layers.fc1]\nsparsity = 0.5\ngranularity = "block:1x4"\n'
                   '[layers.conv1]\nskip = true\n')
    out = tmp_path / "res" / "pruned.keras"
    code = main(["prune", str(cnn_path), "--data", "digits", "--sparsity", "0.9", "--config", str(cfg),
                 "--mode", "one-shot", "--epochs", "1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.with_suffix(".json").read_text())
    assert set(doc["accuracy"]) >= {"before", "after"}
    assert all(isinstance(doc["accuracy"][k], float) for k in ("before", "after"))
    layers = {l["name"]: l for l in doc["layers"]}
    assert list(layers) == ["conv1", "conv2", "fc1", "logits"]
    for l in doc["layers"]:
        assert LAYER_KEYS <= set(l)
        assert isinstance(l["skipped"], bool) and isinstance(l["sparsity"], float)
    # the file's [layers.fc1] overrides the command line's --sparsity 0.9 for fc1 only
    assert layers["fc1"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert layers["fc1"]["granularity"] == "block:1x4"
    assert layers["conv2"]["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert layers["conv1"]["skipped"] and layers["conv1"]["note"] == "skip requested"
    assert layers["logits"]["skipped"] and "last classifier" in layers["logits"]["note"]

    from toolchain.models import load_keras_model

    model = load_keras_model(out)
    assert float(np.mean(model.get_layer("fc1").kernel.numpy() == 0)) == pytest.approx(
        layers["fc1"]["sparsity"], abs=1e-6)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pruned.json", "pruned.keras"]


@pytest.mark.train
@pytest.mark.parametrize("extra,match", [
    (["--sparsity", "0.5", "--out", "{d}/p.h5"], "written as a .keras file"),
    (["--out", "{d}/p.keras"], "--sparsity S is required"),
    (["--sparsity", "0.5", "--config", "{d}/bad.toml", "--out", "{d}/p.keras"], "bad.toml: unknown key 'colour'"),
    (["--sparsity", "0.5", "--layer", "fc9:skip", "--out", "{d}/p.keras"], "layer 'fc9' is not a layer"),
    (["--sparsity", "0.5", "--granularity", "nm:4:4", "--out", "{d}/p.keras"], "N:M needs 0 < N < M"),
])
@pytest.mark.slow
def test_prune_errors_exit_2_and_write_nothing(cnn_path, tmp_path, capsys, extra, match):
    d = tmp_path / "o"
    d.mkdir()
    (d / "bad.toml").write_text("colour = 'red'\n")
    args = ["prune", str(cnn_path), "--data", "digits", "--epochs", "1"] + [a.format(d=d) for a in extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesparse: error:") and match in err and "Traceback" not in err
    assert sorted(p.name for p in d.iterdir()) == ["bad.toml"]


@pytest.mark.train
@pytest.mark.slow
def test_sweep_command(cnn_path, tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", str(cnn_path), "--data", "digits", "--sparsities", "0.5,0.9",
                 "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["sweep.csv", "sweep.json", "sweep.png", "sweep_magnitude.png", "sweep_structured.png"]
    rows = (out / "sweep.csv").read_text().splitlines()
    assert rows[0] == "scope,method,granularity,sparsity,achieved,accuracy,drop_points,kernel_weights,nonzero"
    assert len(rows) == 1 + 1 + 9 * 2
    assert json.loads((out / "sweep.json").read_text())["finetune_epochs"] == 0


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_compile_auto_sparsity(cnn_path, tmp_path, capsys):
    from toolchain.prune.sweep import pick_sparsities, read_csv

    out = tmp_path / "c"
    assert main(["compile", str(cnn_path), "--data", "digits", "--out", str(out), "--auto-sparsity",
                 "--max-accuracy-drop", "1.0", "--sparsities", "0.5,0.8,0.95", "--epochs", "1"]) == 0
    pruned = json.loads((out / "pruned.json").read_text())
    auto = pruned["auto_sparsity"]
    sweep = read_csv(out / "sweep" / "sweep.csv")
    assert auto["attempts"][0]["sparsity"] == pick_sparsities(sweep, 1.0, ["conv2", "fc1"])
    final = auto["attempts"][-1]["sparsity"]
    layers = {l["name"]: l for l in pruned["layers"]}
    for name, s in final.items():
        assert layers[name]["sparsity"] == pytest.approx(s, abs=0.01)
    assert auto["within_limit"] == (auto["attempts"][-1]["drop_points"] <= 1.0)
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["pruned_float"] == pytest.approx(pruned["accuracy"]["after"])
    assert (out / "src" / "model.c").exists()
