"""Weight sharing: k-means codebooks, and the int8 model keeping at most 2^bits values per
layer after centroid fine-tuning and conversion."""
import numpy as np
import pytest

from toolchain.quantize import sharing


@pytest.mark.parametrize("init", sharing.INITS)
def test_kmeans_codebook_round_trip(init):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(40, 30)).astype(np.float32)
    w[rng.random(w.shape) < 0.7] = 0
    s = sharing.cluster_kernel("fc", w, 3, init, seed=1)
    assert len(s.centroids) <= 7  # 2^3 minus the code pruned zeros take
    k = s.kernel()
    np.testing.assert_array_equal(k == 0, w == 0)  # sparsity preserved
    assert set(np.unique(k[k != 0])) <= set(s.centroids)
    # each weight sits at its nearest centroid, and the clustering beats the initial guess
    nearest = np.abs(w[w != 0][:, None] - s.centroids[None, :]).argmin(axis=1)
    np.testing.assert_array_equal(s.centroids[nearest], k[w != 0])
    err = np.abs(k - w)[w != 0].mean()
    assert err < 0.25 * np.abs(w[w != 0]).mean()


def test_linear_init_spans_the_range():
    v = np.array([-2.0, -1.0, 0.5, 3.0])
    np.testing.assert_allclose(sharing.init_centroids(v, 3, "linear", None), [-2.0, 0.5, 3.0])
    with pytest.raises(ValueError):
        sharing.init_centroids(v, 3, "nope", np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.parametrize("bits", [2, 4])
def test_shared_int8_model_has_at_most_2_to_the_bits_values(bits):
    """After fine-tuning (centroids move) and per-tensor int8 conversion, every layer of the
    .tflite holds at most 2^bits distinct weights, the pruned zeros included."""
    import tf_keras as keras

    from toolchain.data.datasets import load_dataset
    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite

    ds = load_dataset("digits")
    keras.utils.set_random_seed(0)
    inp = keras.Input(ds.input_shape)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(24, activation="relu", name="fc")(x)
    out = keras.layers.Dense(10, activation="softmax", name="logits")(x)
    model = keras.Model(inp, out)
    for layer in model.layers[1:]:
        ws = layer.get_weights()
        if ws:
            ws[0][np.abs(ws[0]) < np.quantile(np.abs(ws[0]), 0.6)] = 0
            layer.set_weights(ws)
    before = [w.copy() for w in model.get_weights()]
    result = sharing.share_weights(model, ds, bits, epochs=1, lr=1e-3)
    assert result.history and np.isfinite(result.history[0]["loss"])
    moved = [s for s, c in zip(result.layers, [sharing.cluster_kernel(s.name, b, bits)
                                                for s, b in zip(result.layers, before[::2])])
             if not np.allclose(s.centroids, c.centroids)]
    assert moved, "fine-tuning left every centroid where k-means put it"
    for s, layer in zip(result.layers, sharing.shareable_layers(model)):
        k = layer.get_weights()[0]
        assert np.unique(k).size <= 1 << bits
        np.testing.assert_array_equal(k != 0, s.mask)
    plan = plan_model(to_int8_tflite(model, ds.x_train[:50], per_tensor=True), "shared")
    weighted = [l for l in plan.layers if l.weights is not None]
    assert len(weighted) == 3
    for layer in weighted:
        assert 1 < np.unique(layer.weights).size <= 1 << bits, layer.name


def test_holdout_split_is_a_seeded_stratified_fifth_of_the_training_split():
    """The data choosing codebook bits (--share-weights auto) is carved off the training
    split: disjoint from what is left to train on, deterministic per seed, stratified, and
    the test split is untouched."""
    from toolchain.data.datasets import Dataset
    from toolchain.errors import ToolchainError

    rng = np.random.default_rng(0)
    n = 300
    x = np.arange(n, dtype=np.float32).reshape(n, 1) + rng.random((n, 1), dtype=np.float32) / 2
    y = np.repeat(np.arange(3), n // 3)
    xt, yt = x[:10], y[:10]
    ds = Dataset("toy", x, y, xt, yt, num_classes=3)
    rest, h = sharing.holdout_split(ds, seed=5)
    assert len(h.y) == 60 and len(rest.x_train) == h.train_samples == 240
    assert not set(h.x[:, 0]) & set(rest.x_train[:, 0])  # disjoint (values are unique)
    assert sorted([*h.x[:, 0], *rest.x_train[:, 0]]) == sorted(x[:, 0])
    assert np.bincount(h.y).tolist() == [20, 20, 20]  # stratified
    assert rest.x_test is xt and rest.y_test is yt and ds.x_train is x  # nothing else changes
    again, h2 = sharing.holdout_split(ds, seed=5)
    np.testing.assert_array_equal(h2.x, h.x)
    np.testing.assert_array_equal(again.x_train, rest.x_train)
    assert not np.array_equal(sharing.holdout_split(ds, seed=6)[1].x, h.x)
    d = h.describe()
    assert d["split"] == "validation" and d["samples"] == 60 and d["train_samples"] == 240
    assert "held out before training" in d["source"] and "toy" in d["source"]
    with pytest.raises(ToolchainError, match="no labels"):
        sharing.holdout_split(Dataset("u", x, None, x, None, 0))
    with pytest.raises(ToolchainError, match="at least 2"):
        sharing.holdout_split(Dataset("one", x[:1], y[:1], x[:1], y[:1], 1))
    rest, h = sharing.holdout_split(Dataset("few", x[:4], np.arange(4), x[:4], np.arange(4), 4))
    assert len(h.y) == 1 and len(rest.y_train) == 3  # too few per class to stratify
