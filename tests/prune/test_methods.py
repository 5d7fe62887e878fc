"""Each method's and mode's defining property on a trained model."""
import numpy as np
import pytest

from toolchain.encode import patterns
from toolchain.prune.config import build_config, kernel_variable
from toolchain.prune.methods import prune_model

pytestmark = pytest.mark.slow


def _kernel(model, name):
    return kernel_variable(model.get_layer(name)).numpy()


def _layers(result):
    return {l["name"]: l for l in result.report()["layers"]}


@pytest.mark.train
def test_gradual_reaches_each_layer_target_with_tfmot_and_logs_to_tensorboard(cnn, digits, tmp_path):
    from toolchain.prune.logs import read_scalars

    logdir = tmp_path / "tb"
    config = build_config({"sparsity": 0.85}, ["logits:sparsity=0.5"], epochs=2, verbose=0, logdir=logdir)
    r = prune_model(cnn, digits, config)
    layers = _layers(r)
    for name, target in (("conv2", 0.85), ("fc1", 0.85), ("logits", 0.5)):
        assert abs(float(np.mean(_kernel(r.model, name) == 0)) - target) <= 0.01, name
        assert layers[name]["sparsity"] == pytest.approx(target, abs=0.01)
        assert layers[name]["backend"] == "tfmot" and layers[name]["granularity"] == "unstructured"
    assert layers["conv1"]["skipped"] and np.count_nonzero(_kernel(r.model, "conv1")) == 144
    assert "first conv" in layers["conv1"]["note"]
    assert r.accuracy["before"] > 0.8 and r.accuracy["after"] > 0.5
    scalars = read_scalars(logdir)
    fc1 = [v for _, v in scalars["sparsity/fc1"]]
    assert fc1[0] < 0.5 and fc1[-1] == pytest.approx(0.85, abs=0.01)
    assert all(b >= a - 1e-9 for a, b in zip(fc1, fc1[1:]))  # polynomial: only ever rises
    assert len(scalars["loss"]) >= 2 and "accuracy" in scalars
    assert (logdir / "metrics").is_dir()  # tfmot's PruningSummaries beside ours


@pytest.mark.train
@pytest.mark.parametrize("gran,bh,bw", [("block:1x4", 1, 4), ("block:4x1", 4, 1)])
def test_block_zeros_are_whole_blocks(cnn, digits, gran, bh, bw):
    config = build_config({"sparsity": 0.75, "granularity": gran, "mode": "one-shot", "prune_all": True},
                          epochs=1, verbose=0)
    r = prune_model(cnn, digits, config)
    layers = _layers(r)
    blocked = [n for n, l in layers.items() if l["granularity"] == gran]
    assert {"conv2", "fc1"} <= set(blocked)
    for name in blocked:
        rows = patterns.keras_rows(_kernel(r.model, name))
        assert patterns.zeros_in_whole_blocks(rows, bh, bw), name
        assert abs(patterns.sparsity(rows) - 0.75) <= 0.01, name
    # conv2's blocks are edgesparse's masks; fc1's are tfmot's block_size, in our row order
    assert layers["conv2"]["backend"] == "edgesparse" and layers["fc1"]["backend"] == "tfmot"
    fallback = "conv1" if bw == 4 else "logits"
    assert layers[fallback]["granularity"] == "unstructured"
    assert "not a multiple of 4" in layers[fallback]["note"]
    assert abs(layers[fallback]["sparsity"] - 0.75) <= 0.01


@pytest.mark.train
@pytest.mark.parametrize("n,m", [(2, 4), (1, 4)])
def test_nm_pattern_holds_in_every_group(cnn, digits, n, m):
    config = build_config({"sparsity": 0.5, "granularity": f"nm:{n}:{m}", "prune_all": True},
                          epochs=1, verbose=0)
    r = prune_model(cnn, digits, config)
    layers = _layers(r)
    for name in ("conv2", "fc1", "logits"):
        rows = patterns.keras_rows(_kernel(r.model, name))
        nonzero = (rows != 0).reshape(rows.shape[0], -1, m).sum(axis=2)
        assert (nonzero <= n).all(), name
        assert (nonzero == n).mean() > 0.99, name  # trained weights are never exactly 0
        assert layers[name]["granularity"] == f"nm:{n}:{m}"
        assert layers[name]["sparsity"] == pytest.approx(1 - n / m, abs=0.01)
    assert layers["conv1"]["granularity"] == "unstructured"  # 1 input channel: falls back
    assert "1 input channels are not a multiple of M=4" in layers["conv1"]["note"]
    assert layers["conv1"]["sparsity"] == pytest.approx(1 - n / m, abs=0.01)


@pytest.mark.train
def test_iterative_reaches_the_target_in_the_stated_rounds(cnn, digits):
    config = build_config({"sparsity": 0.9, "mode": "iterative", "rounds": 3}, epochs=1, verbose=0)
    r = prune_model(cnn, digits, config)
    rounds = r.report()["rounds"]
    assert [x["round"] for x in rounds] == [1, 2, 3]
    expected = [0.9 * (1 - (2 / 3) ** 3), 0.9 * (1 - (1 / 3) ** 3), 0.9]
    for x, target in zip(rounds, expected):
        for name in ("conv2", "fc1"):
            assert x["target"][name] == pytest.approx(target, abs=1e-6)
            assert x["sparsity"][name] == pytest.approx(target, abs=0.01)
    for name in ("conv2", "fc1"):
        assert abs(float(np.mean(_kernel(r.model, name) == 0)) - 0.9) <= 0.01
    assert _layers(r)["fc1"]["backend"] == "edgesparse"


@pytest.mark.train
def test_l1_training_then_threshold(cnn, digits):
    config = build_config({"sparsity": 0.8, "method": "l1", "l1": 3e-3}, ["fc1:threshold=0.05"],
                          epochs=2, verbose=0)
    r = prune_model(cnn, digits, config)
    info = r.l1
    for name in ("conv2", "fc1"):
        # the penalty shrinks the kernel before anything is cut
        assert info[name]["l1_norm_after_penalty"] < 0.85 * info[name]["l1_norm_before"], name
    # fc1: exactly the weights below the given threshold were pruned
    fc1 = _layers(r)["fc1"]
    assert fc1["threshold"] == 0.05
    assert fc1["sparsity"] == pytest.approx(info["fc1"]["fraction_below_threshold"], abs=1e-6)
    assert fc1["sparsity"] > 0.3
    # conv2: no threshold given, so the one that reaches the target
    conv2 = _layers(r)["conv2"]
    assert conv2["sparsity"] == pytest.approx(0.8, abs=0.01)
    assert conv2["threshold"] > 0


@pytest.mark.train
def test_depthwise_is_pruned_by_edgesparse_masks(dwnet, digits):
    config = build_config({"sparsity": 0.6, "granularity": "nm:2:4"},
                          ["dw:sparsity=0.7", "conv1:skip"], epochs=2, verbose=0)
    r = prune_model(dwnet, digits, config)
    dw = _layers(r)["dw"]
    k = r.model.get_layer("dw").depthwise_kernel.numpy()
    assert abs(float(np.mean(k == 0)) - 0.5) <= 0.01  # N:M fell back to unstructured at 2:4's 50%
    assert dw["backend"] == "edgesparse" and dw["granularity"] == "unstructured"
    assert "does not apply to DepthwiseConv2D" in dw["note"]
    config = build_config({"sparsity": 0.7, "mode": "one-shot"}, ["dw:sparsity=0.7"], epochs=1, verbose=0)
    r = prune_model(dwnet, digits, config)
    k = r.model.get_layer("dw").depthwise_kernel.numpy()
    assert abs(float(np.mean(k == 0)) - 0.7) <= 0.01
    assert r.accuracy["after"] > 0.3


@pytest.mark.train
def test_ramp_schedule_and_one_shot_without_finetuning(cnn, digits, tmp_path):
    f = tmp_path / "ramps.py"
    f.write_text("def early(p):\n    return min(1.0, 3.0 * p)\n")
    config = build_config({"sparsity": 0.7, "schedule": f"ramp:{f}:early"}, epochs=1, verbose=0)
    r = prune_model(cnn, digits, config)
    assert _layers(r)["fc1"]["sparsity"] == pytest.approx(0.7, abs=0.01)
    before = _kernel(cnn, "fc1")
    r = prune_model(cnn, digits, build_config({"sparsity": 0.5, "mode": "one-shot"}, epochs=0, verbose=0))
    after = _kernel(r.model, "fc1")
    kept = after != 0
    np.testing.assert_array_equal(after[kept], before[kept])  # no fine-tuning: survivors unchanged
    assert np.abs(before[~kept]).max() <= np.abs(before[kept]).min()
