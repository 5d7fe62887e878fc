"""prune_recovering: the ramp's length and the epoch budget grow with the sparsity, the
fine-tune cuts the learning rate at its first plateaus and stops at the next one, and the best
post-ramp epoch's weights (masked) are the ones returned."""
import numpy as np
import pytest

from toolchain.errors import ToolchainError
from toolchain.prune.magnitude import LR_DROP, PATIENCE, StoppingRule, recovery_budget


def test_budget_grows_with_sparsity():
    budgets = [recovery_budget(s) for s in (0.0, 0.5, 0.8, 0.92, 0.97)]
    assert budgets == [(2, 16), (2, 16), (5, 40), (8, 64), (11, 88)]
    with pytest.raises(ToolchainError, match="target sparsity must be in"):
        recovery_budget(1.0)


def _epochs(rule, figures):
    return [rule.update({"val_accuracy": a, "val_loss": l}) for a, l in figures]


def test_a_falling_loss_is_progress_a_flat_one_is_not():
    rule = StoppingRule(patience=2)
    # accuracy stalls at 0.9 while the loss keeps falling: never stops
    assert _epochs(rule, [(0.9, 1.0), (0.9, 0.8), (0.88, 0.7), (0.9, 0.85)]) == \
        ["best", "best", "progress", "wait"]
    assert not rule.stop and rule.best_score == (0.9, -0.8)
    assert _epochs(rule, [(0.89, 0.7)]) == ["wait"] and rule.stop
    # a better accuracy wins over a lower loss; without accuracy, the loss decides
    rule = StoppingRule(patience=1)
    assert _epochs(rule, [(0.5, 1.0), (0.6, 2.0), (0.55, 0.5)]) == ["best", "best", "progress"]
    assert _epochs(StoppingRule(1), [(None, 1.0), (None, 0.9), (None, 0.95)]) == \
        ["best", "best", "wait"]


def test_plateaus_cut_the_learning_rate_before_one_stops():
    rule = StoppingRule(patience=2, drops=1)
    # the second wait in a row is a drop while one remains, and the count starts again
    assert _epochs(rule, [(0.9, 1.0), (0.8, 1.1), (0.8, 1.2)]) == ["best", "wait", "drop"]
    assert not rule.stop and rule.drops == 0
    assert _epochs(rule, [(0.85, 1.1), (0.95, 0.9), (0.9, 1.0), (0.9, 1.0)]) == \
        ["wait", "best", "wait", "wait"]
    assert rule.stop


def _tiny(seed=0):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Dense(24, activation="relu", name="fc")(keras.layers.Flatten()(inp))
    return keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="logits")(x))


@pytest.fixture(scope="module")
def split():
    from toolchain.data import load_dataset
    from toolchain.quantize.sharing import holdout_split

    return holdout_split(load_dataset("digits"), seed=0)


@pytest.mark.train
def test_stops_on_a_plateau_before_the_budget(split):
    from toolchain.prune.magnitude import prune_recovering

    ds, holdout = split
    lines = []
    # learning rate 0: after the ramp the weights cannot change, so the score plateaus
    _, tuned = prune_recovering(_tiny(), ds, 0.5, holdout.x, holdout.y, budget=(2, 12),
                                patience=2, lr=0.0, lr_drops=0, progress=lines.append)
    assert tuned.epochs_run == 2 + 2 < tuned.max_epochs == 12
    assert tuned.stopped_early and tuned.best_epoch == 2
    assert len(lines) == len(tuned.history) == 4 and "prune epoch 1/12" in lines[0]
    assert [h["sparsity"] for h in tuned.history][1:] == [0.5] * 3  # the target from the ramp's end


@pytest.mark.train
def test_keeps_the_best_epoch_after_the_ramp(split):
    from toolchain.models.train import compile_model
    from toolchain.prune import layer_sparsity
    from toolchain.prune.magnitude import prune_recovering

    ds, holdout = split
    # labels shifted by one: the better the model learns digits, the worse it scores on them,
    # so the best validation epoch is the first one after the ramp, not the last
    wrong = (holdout.y + 1) % 10
    lines = []
    model, tuned = prune_recovering(_tiny(), ds, 0.6, holdout.x, wrong, budget=(2, 20),
                                    patience=PATIENCE, lr=3e-3, lr_drops=1, progress=lines.append)
    # a plateau of PATIENCE epochs cuts the rate and goes back to epoch 2, the next one stops
    assert tuned.best_epoch == 2 and tuned.epochs_run == 2 + 2 * PATIENCE and tuned.stopped_early
    rates = [h["learning_rate"] for h in tuned.history]
    assert rates == pytest.approx([3e-3] * (2 + PATIENCE) + [3e-3 * LR_DROP] * PATIENCE)
    assert "learning rate 0.0009, from epoch 2's weights" in lines[1 + PATIENCE]
    assert tuned.as_dict()["lr_drops"] == 1
    best, last = tuned.history[1], tuned.history[-1]
    compile_model(model)
    loss, _ = model.evaluate(holdout.x, wrong, verbose=0)
    assert loss == pytest.approx(best["val_loss"], rel=1e-4)
    assert abs(loss - last["val_loss"]) > 1e-3  # not the last epoch's weights
    for name, value in layer_sparsity(model).items():
        assert abs(value - 0.6) <= 0.01, name  # the masks stay applied


@pytest.mark.train
def test_budget_is_checked(split):
    from toolchain.prune.magnitude import prune_recovering

    ds, holdout = split
    with pytest.raises(ToolchainError, match=r"ramp epochs \(3\) <= max epochs \(2\)"):
        prune_recovering(_tiny(), ds, 0.5, holdout.x, holdout.y, budget=(3, 2))
    with pytest.raises(ToolchainError, match="non-empty validation split"):
        prune_recovering(_tiny(), ds, 0.5, holdout.x[:0], holdout.y[:0])


@pytest.mark.train
def test_per_layer_targets(split):
    from toolchain.prune import layer_sparsity
    from toolchain.prune.magnitude import prune_recovering

    ds, holdout = split
    model, tuned = prune_recovering(_tiny(), ds, {"fc": 0.9, "logits": 0.0}, holdout.x, holdout.y,
                                    budget=(2, 3), patience=1)
    sparsity = layer_sparsity(model)
    assert abs(sparsity["fc"] - 0.9) <= 0.01 and sparsity["logits"] == 0.0
    assert tuned.target_sparsity == {"fc": 0.9, "logits": 0.0}
    assert [h["sparsity"] for h in tuned.history][1:] == pytest.approx([0.9] * (tuned.epochs_run - 1),
                                                                       abs=1e-3)
    with pytest.raises(ToolchainError, match=r"layer 'flatten': not a prunable layer of the model "
                                             r"\(Dense, Conv2D or DepthwiseConv2D: fc, logits\)"):
        prune_recovering(_tiny(), ds, {"flatten": 0.5}, holdout.x, holdout.y)


def _tiny_depthwise(seed=0):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="logits")(x))


@pytest.mark.train
def test_depthwise_kernels_are_pruned_too(split):
    """tfmot has no pruning for DepthwiseConv2D; edgesparse's masks prune it on the same
    schedule, so "every weighted layer" includes it, with a whole target or a per-layer one."""
    from toolchain.prune import layer_sparsity, prune_gradual
    from toolchain.prune.magnitude import prune_recovering

    ds, holdout = split
    model, tuned = prune_recovering(_tiny_depthwise(), ds, 0.8, holdout.x, holdout.y,
                                    budget=(2, 3), patience=1)
    sparsity = layer_sparsity(model)
    assert set(sparsity) == {"conv", "dw", "logits"}
    for name, value in sparsity.items():
        assert abs(value - 0.8) <= 0.02, (name, value)
    # the history's sparsity counts the depthwise masks with tfmot's
    assert tuned.history[-1]["sparsity"] == pytest.approx(0.8, abs=0.01)
    model, _ = prune_recovering(_tiny_depthwise(), ds, {"dw": 0.6}, holdout.x, holdout.y,
                                budget=(2, 2), patience=1)
    sparsity = layer_sparsity(model)
    assert abs(sparsity["dw"] - 0.6) <= 0.02 and sparsity["conv"] < 0.1
    model = prune_gradual(_tiny_depthwise(), ds, 0.9, epochs=2, verbose=0)
    # 90% of 9 taps is 0.9 per channel: each channel keeps one (8 of 9 pruned)
    assert layer_sparsity(model)["dw"] == pytest.approx(8 / 9)
    kernel = model.get_layer("dw").depthwise_kernel.numpy()
    assert (kernel != 0).reshape(9, -1).sum(axis=0).tolist() == [1] * kernel.shape[2]


@pytest.mark.train
def test_the_model_pruned_is_left_as_it_was(split):
    """Pruning twice from one trained model starts from the same weights both times."""
    import numpy as np

    from toolchain.prune import prune_gradual
    from toolchain.prune.magnitude import prune_recovering

    ds, holdout = split
    model = _tiny_depthwise()
    before = [w.copy() for w in model.get_weights()]
    prune_recovering(model, ds, 0.5, holdout.x, holdout.y, budget=(2, 2), patience=1)
    prune_gradual(model, ds, 0.5, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_ramp_epochs_sets_the_ramp_and_scales_the_budget():
    assert recovery_budget(0.8, 35) == (35, 280)
    assert recovery_budget(0.5, 1) == (1, 8)
    with pytest.raises(ToolchainError, match="--ramp-epochs 0: the ramp needs at least 1 epoch"):
        recovery_budget(0.8, 0)


def _tiny_dropout(seed=0):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Dropout(0.4, name="drop_conv")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(16, activation="relu", name="fc")(x)
    x = keras.layers.Dropout(0.5, name="drop_fc")(x)
    return keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="logits")(x))


def test_dropout_follows_the_kept_weights():
    """Each Dropout is traced back to the weighted layer it drops (through BatchNorm and the
    activation) and fine-tunes at its rate x sqrt(kept fraction) (Han et al. 2015)."""
    from toolchain.prune.magnitude import dropout_layers, fine_tune_dropout

    model = _tiny_dropout()
    assert dropout_layers(model) == {"drop_conv": (0.4, "conv"), "drop_fc": (0.5, "fc")}
    rates = fine_tune_dropout(model, {"conv": 0.75, "fc": 0.96, "logits": 0.5})
    assert rates == pytest.approx({"drop_conv": 0.2, "drop_fc": 0.1})
    # a layer left dense keeps its Dropout's rate
    assert fine_tune_dropout(model, {"fc": 0.75}) == pytest.approx({"drop_conv": 0.4, "drop_fc": 0.25})
    # the search stops at any layer with a kernel (a Conv1D here), not only the ones pruned
    import tf_keras as keras

    inp = keras.Input((16, 2))
    x = keras.layers.Conv1D(4, 3, name="c1d")(keras.layers.Dense(8, name="fc0")(inp))
    x = keras.layers.Dropout(0.5, name="drop")(x)
    seq = keras.Model(inp, keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x)))
    assert dropout_layers(seq) == {"drop": (0.5, "c1d")}
    assert fine_tune_dropout(seq, {"fc0": 0.96, "out": 0.96}) == pytest.approx({"drop": 0.5})


@pytest.mark.train
def test_fine_tune_runs_with_less_dropout_and_returns_the_rates(split):
    from toolchain.prune.magnitude import _wrap, prune_recovering

    ds, holdout = split
    model = _tiny_dropout()
    pruned, _, _ = _wrap(model, 0.75, 10, 1, 0, None)
    inner = [getattr(layer, "layer", layer) for layer in pruned.layers]  # tfmot wraps each layer
    trained = {layer.name: layer.rate for layer in inner if "drop" in layer.name}
    assert trained == pytest.approx({"drop_conv": 0.2, "drop_fc": 0.25})
    lines = []
    result, tuned = prune_recovering(model, ds, 0.75, holdout.x, holdout.y, budget=(1, 1),
                                     patience=1, progress=lines.append)
    assert tuned.dropout == {"drop_conv": [0.4, 0.2], "drop_fc": [0.5, 0.25]}
    assert "drop_conv 0.4 -> 0.2, drop_fc 0.5 -> 0.25" in lines[0]
    # the model returned, and the one pruned, keep their own rates
    assert [result.get_layer(n).rate for n in ("drop_conv", "drop_fc")] == [0.4, 0.5]
    assert [model.get_layer(n).rate for n in ("drop_conv", "drop_fc")] == [0.4, 0.5]
