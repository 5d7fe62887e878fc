"""Unit / filter removal: exact surgery, what blocks it, and the smaller model end to end."""
import json

import numpy as np
import pytest

from toolchain.models import build_model
from toolchain.prune.structured import shrink_model, structural_blocker, unit_scores, units_to_keep


def test_units_to_keep_drops_the_lowest_norms():
    k = np.zeros((3, 6))
    k[:, 0], k[:, 1], k[:, 2] = 5, 0.1, [3, -4, 0]  # l2: 8.66, 0.17, 5; l1: 15, 0.3, 7
    k[:, 3], k[:, 4], k[:, 5] = 1, 2, [0, 0, 9]  # l2: 1.73, 3.46, 9;  l1: 3, 6, 9
    assert unit_scores(k, "l2")[2] == pytest.approx(5.0)
    np.testing.assert_array_equal(units_to_keep(k, 0.5, "l2"), [0, 2, 5])
    np.testing.assert_array_equal(units_to_keep(k, 0.5, "l1"), [0, 2, 5])
    np.testing.assert_array_equal(units_to_keep(k, 0.99, "l1"), [0])  # at least one unit stays


def test_shrink_is_exact_through_depthwise_batchnorm_and_flatten(dw_builder):
    """Removing channels gives the same outputs as the full model with those channels' outgoing
    weights zeroed: checks every index mapping (conv -> BN -> depthwise -> conv, flatten -> dense)."""
    import tf_keras as keras

    base = dw_builder(seed=3)
    # put a BatchNormalization between conv1 and the depthwise conv
    x = keras.layers.BatchNormalization(name="bn")(base.get_layer("conv1").output)
    for name in ("dw", "conv2", "pool", "flatten", "fc1", "logits"):
        x = base.get_layer(name)(x)
    model = keras.Model(base.input, x, name="bn_net")
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2, 8), rng.normal(size=8), rng.normal(size=8), rng.uniform(0.5, 2, 8)])
    keep = {"conv1": np.array([0, 2, 3, 7]), "conv2": np.array([1, 4, 5, 8, 9, 15]),
            "fc1": np.arange(0, 32, 3)}
    small = shrink_model(model, keep)
    assert small.get_layer("conv1").kernel.shape == (3, 3, 1, 4)
    assert small.get_layer("dw").depthwise_kernel.shape == (3, 3, 4, 1)
    assert small.get_layer("bn").gamma.shape == (4,)
    assert small.get_layer("conv2").kernel.shape == (3, 3, 4, 6)
    assert small.get_layer("fc1").kernel.shape == (4 * 4 * 6, 11)
    assert small.get_layer("logits").kernel.shape == (11, 10)

    ref = keras.models.clone_model(model)
    ref.set_weights(model.get_weights())
    drop = {n: np.setdiff1d(np.arange(int(model.get_layer(n).kernel.shape[-1])), k) for n, k in keep.items()}
    w = ref.get_layer("conv2").get_weights()
    w[0][:, :, drop["conv1"], :] = 0  # conv1's removed channels reach conv2 through bn and dw
    ref.get_layer("conv2").set_weights(w)
    w = ref.get_layer("fc1").get_weights()
    rows = (np.arange(16)[:, None] * 16 + drop["conv2"][None, :]).ravel()  # flatten of 4x4x16
    w[0][rows, :] = 0
    ref.get_layer("fc1").set_weights(w)
    w = ref.get_layer("logits").get_weights()
    w[0][drop["fc1"], :] = 0
    ref.get_layer("logits").set_weights(w)

    x = rng.uniform(0, 1, size=(64, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(small.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_shrink_a_sequential_mlp():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(9, activation="relu", name="h1"),
                              keras.layers.Dropout(0.2, name="drop"), keras.layers.Dense(7, name="h2"),
                              keras.layers.Dense(3, name="out")])
    keep = {"h1": np.array([1, 2, 5, 8]), "h2": np.array([0, 6])}
    small = shrink_model(model, keep)
    assert [tuple(small.get_layer(n).kernel.shape) for n in ("h1", "h2", "out")] == [(12, 4), (4, 2), (2, 3)]
    x = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32)
    h1 = np.maximum(x @ model.get_layer("h1").kernel.numpy() + model.get_layer("h1").bias.numpy(), 0)
    h2 = h1[:, keep["h1"]] @ model.get_layer("h2").kernel.numpy()[keep["h1"]] + model.get_layer("h2").bias.numpy()
    out = h2[:, keep["h2"]] @ model.get_layer("out").kernel.numpy()[keep["h2"]] + model.get_layer("out").bias.numpy()
    np.testing.assert_allclose(small.predict(x, verbose=0), out, rtol=1e-5, atol=1e-5)


def test_blockers_say_why():
    import tf_keras as keras

    cnn = build_model("digits_cnn", (8, 8, 1), 10)
    assert structural_blocker(cnn, "conv2") is None
    assert "'logits' produces a model output, whose width is fixed" in structural_blocker(cnn, "logits")
    inp = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inp)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b")(inp)
    y = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(keras.layers.Add(name="sum")([a, b])))
    res = keras.Model(inp, y)
    assert "reaches Add 'sum', which combines several inputs" in structural_blocker(res, "a")
    r = keras.layers.Reshape((64, 4), name="reshape")(a)
    assert "Reshape 'reshape' consumes pruned channels" in structural_blocker(
        keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(r))), "a")


@pytest.mark.train
@pytest.mark.slow
def test_units_pruning_shrinks_the_mlp(mlp, digits28):
    from toolchain.prune.config import build_config
    from toolchain.prune.methods import prune_model

    r = prune_model(mlp, digits28, build_config({"sparsity": 0.6, "method": "units"}, epochs=1, verbose=0))
    layers = {l["name"]: l for l in r.report()["layers"]}
    assert (layers["fc1"]["units_before"], layers["fc1"]["units_after"]) == (300, 120)
    assert (layers["fc2"]["units_before"], layers["fc2"]["units_after"]) == (100, 40)
    assert layers["fc1"]["sparsity"] == pytest.approx(0.6) and layers["fc1"]["method"] == "units"
    assert layers["logits"]["skipped"] and layers["logits"]["units_after"] is None
    assert [tuple(r.model.get_layer(n).kernel.shape) for n in ("fc1", "fc2", "logits")] == \
        [(784, 120), (120, 40), (40, 10)]
    assert r.accuracy["after"] > 0.8


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_filter_and_unit_pruned_model_runs_bit_exact_on_the_host(dwnet, digits, tmp_path):
    """Filters of conv1 (through the depthwise conv) and conv2, units of fc1: a smaller dense
    model that converts to int8, generates C and runs with 0 mismatching bytes vs TFLM."""
    from toolchain import pipeline
    from toolchain.prune.config import build_config

    config = build_config({"sparsity": 0.5, "method": "filters", "prune_all": True}, epochs=1, verbose=0)
    out = tmp_path / "out"
    pipeline.compile_model(None, out, keras_model=dwnet, data="digits", prune=config, name="dwnet")
    pruned = json.loads((out / "pruned.json").read_text())
    widths = {l["name"]: (l["units_before"], l["units_after"]) for l in pruned["layers"]}
    assert widths == {"conv1": (8, 4), "dw": (None, None), "conv2": (16, 8), "fc1": (32, 16),
                      "logits": (None, None)}
    dw = next(l for l in pruned["layers"] if l["name"] == "dw")
    assert "3x3x8x1 -> 3x3x4x1" in dw["note"]
    report = pipeline.run_host(out)
    assert report["mismatches"]["host_vs_reference"] == 0
    assert report["samples"]["host"] == len(digits.x_test)
    params = [l["params"] for l in report["layers"] if l["params"]]
    assert params == [3 * 3 * 4, 3 * 3 * 4, 3 * 3 * 4 * 8, 4 * 4 * 8 * 16, 16 * 10]
    assert report["accuracy"]["int8_host"] == report["accuracy"]["int8_reference"] > 0.5
