"""compile's accuracy check: report.json "accuracy_loss" always (Keras models with labels), and
one warning line naming the remedy only when int8 loses more than ACCURACY_LOSS_POINTS against
the float model; the default (no --epochs) fine-tune recovers and says how in
"pruning_fine_tune"."""
import json
from types import SimpleNamespace

import pytest

from toolchain import pipeline


def _trained_tiny():
    import tf_keras as keras

    from toolchain.data import load_dataset
    from toolchain.models.train import train

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Dense(32, activation="relu", name="fc")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="logits")(x))
    train(model, load_dataset("digits"), epochs=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("loss") / "float.keras"
    _trained_tiny().save(path)
    return path


@pytest.mark.train
def test_no_remedy_within_the_threshold(tiny_path):
    from toolchain.data import load_dataset

    stages = pipeline.KerasStages(b"", fine_tune={"mode": "recover", "epochs_run": 9})
    entry = pipeline.accuracy_loss(0.95, 0.945, tiny_path, stages, load_dataset("digits"), 0.9,
                                   None)
    assert entry == {"float": 0.95, "int8_reference": 0.945, "points": 0.5,
                     "threshold_points": 1.0, "exceeded": False}
    assert pipeline.accuracy_loss(None, 0.9, tiny_path, stages, None, 0.9, None) is None


@pytest.mark.train
def test_remedy_names_epochs_and_the_sensitive_layers(tiny_path):
    from toolchain.data import load_dataset
    from toolchain.quantize.sharing import holdout_split

    ds = load_dataset("digits")
    _, holdout = holdout_split(ds, seed=0)
    stages = pipeline.KerasStages(b"", fine_tune={"mode": "recover", "epochs_run": 9, "ramp_epochs": 5,
                                                  "stopped_early": True}, holdout=holdout)
    weights = SimpleNamespace(weights=SimpleNamespace(params=100, nonzero=10))
    entry = pipeline.accuracy_loss(0.95, 0.90, tiny_path, stages, ds, 0.9, weights)
    assert entry["exceeded"] and entry["points"] == 5.0
    names = [s["name"] for s in entry["sensitive_layers"]]
    assert names and set(names) <= {"fc", "logits"}
    drops = [s["drop_points"] for s in entry["sensitive_layers"]]
    assert drops == sorted(drops, reverse=True) and drops[0] > 0
    assert entry["suggested_sparsity"] == 0.8 and entry["suggested_epochs"] == 18
    assert entry["suggested_ramp_epochs"] == 50
    msg = entry["message"]
    assert msg.startswith("int8 accuracy 90.0% is 5.0 points below the float model's 95.0% "
                          "(more than the 1-point threshold): prune over a longer ramp (--ramp-epochs 50; "
                          "this run: 5), or fine-tune longer (--epochs 18; this run: 9 epochs, "
                          "stopped when validation accuracy and loss stopped improving)")
    assert "or prune the most sensitive layers less (" + " ".join(
        f"--layer {n}:sparsity=0.8" for n in names) + " --epochs 18)" in msg
    assert "\n" not in msg
    stages.fine_tune["stopped_early"] = False
    entry = pipeline.accuracy_loss(0.95, 0.90, tiny_path, stages, ds, 0.9, weights)
    assert "(--epochs 18; this run: 9 epochs, its whole budget)" in entry["message"]


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.convert
def test_compile_warns_once_when_int8_loses_too_much(tmp_path, capsys):
    out = tmp_path / "lossy"
    report = pipeline.compile_model(None, out, keras_model=_trained_tiny(), data="digits",
                                    sparsity=0.97, prune_epochs=1, name="lossy")
    printed = capsys.readouterr().out
    loss = report["accuracy_loss"]
    assert loss["exceeded"] and loss["points"] > 1.0
    warnings = [line for line in printed.splitlines() if "warning:" in line]
    assert warnings == [f"[edgesparse] warning: {loss['message']}"]
    assert ("fine-tune until validation accuracy and loss stop improving (leave out --epochs; this run: "
            "a fixed 1) or longer (--epochs 2), or prune the most sensitive layers less (--layer "
            in warnings[0])
    assert report["pruning_fine_tune"] == {"mode": "fixed", "target_sparsity": 0.97,
                                           "epochs_run": 1}
    assert json.loads((out / "report.json").read_text())["accuracy_loss"] == loss


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.convert
def test_default_fine_tune_recovers_without_a_warning(tmp_path, capsys):
    out = tmp_path / "recovered"
    report = pipeline.compile_model(None, out, keras_model=_trained_tiny(), data="digits",
                                    sparsity=0.5, name="recovered")
    printed = capsys.readouterr().out
    assert "warning:" not in printed and "prune epoch 1/16" in printed
    ft = report["pruning_fine_tune"]
    assert ft["mode"] == "recover" and (ft["ramp_epochs"], ft["max_epochs"]) == (2, 16)
    assert ft["validation_samples"] == 269 and 2 <= ft["best_epoch"] <= ft["epochs_run"] <= 16
    assert len(ft["history"]) == ft["epochs_run"]
    assert not report["accuracy_loss"]["exceeded"] and report["accuracy_loss"]["points"] <= 1.0
    assert "message" not in report["accuracy_loss"]


@pytest.mark.train
def test_an_unpruned_model_is_not_told_to_fine_tune(tiny_path):
    stages = pipeline.KerasStages(b"")
    weights = SimpleNamespace(weights=SimpleNamespace(params=100, nonzero=100))
    entry = pipeline.accuracy_loss(0.95, 0.90, tiny_path, stages, None, 0.0, weights)
    assert entry["exceeded"] and entry["sensitive_layers"] == []
    assert "--epochs" not in entry["message"] and "--layer" not in entry["message"]
    assert entry["message"].endswith("the model is not pruned, so the int8 conversion lost it: "
                                     "calibrate on data like the deployment's (--data)")


@pytest.mark.train
@pytest.mark.convert
def test_ramp_epochs_sets_the_recovering_fine_tunes_ramp(tiny_path, tmp_path, capsys):
    from toolchain.cli import main

    out = tmp_path / "ramp"
    assert main(["compile", str(tiny_path), "--out", str(out), "--data", "digits", "--sparsity", "0.5",
                 "--ramp-epochs", "1"]) == 0
    assert "polynomial decay over 1 epochs" in capsys.readouterr().out
    ft = json.loads((out / "report.json").read_text())["pruning_fine_tune"]
    assert ft["mode"] == "recover" and (ft["ramp_epochs"], ft["max_epochs"]) == (1, 8)
    assert 1 <= ft["best_epoch"] <= ft["epochs_run"] <= 8


@pytest.mark.train
@pytest.mark.parametrize("extra", [["--ramp-epochs", "3", "--epochs", "2"],
                                   ["--ramp-epochs", "3", "--method", "l1"], ["--ramp-epochs", "0"]])
def test_ramp_epochs_refused_where_it_cannot_apply(extra, tiny_path, tmp_path, capsys):
    from toolchain.cli import main

    out = tmp_path / "o"
    assert main(["compile", str(tiny_path), "--out", str(out), "--data", "digits"] + extra) == 2
    err = capsys.readouterr().err
    assert "--ramp-epochs" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
