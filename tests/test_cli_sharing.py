"""`compile --share-weights BITS|auto [--huffman]`: the report's compression section, the
bound on distinct values, a host run bit-exact with the reference, and the clear errors."""
import json

import numpy as np
import pytest

from toolchain.cli import main


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory):
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu", name="fc")(x)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="logits")(x))
    path = tmp_path_factory.mktemp("sharing") / "small.keras"
    model.save(path)
    return path


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.convert
def test_share_weights_with_huffman(small_keras, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["compile", str(small_keras), "--out", str(out), "--sparsity", "0.7", "--epochs", "1",
                 "--share-weights", "3", "--share-epochs", "1", "--huffman", "--optimize", "size"]) == 0
    printed = capsys.readouterr().out
    assert "smaller than float32" in printed and "gzip -9" in printed
    report = json.loads((out / "report.json").read_text())
    c = report["compression"]
    assert set(c) >= {"ratio_vs_float32", "ratio_vs_dense_int8", "bytes_total", "stages", "layers"}
    assert c["bytes_total"] == report["weights"]["bytes"]
    assert [s["stage"] for s in c["stages"]] == ["float32", "pruned", "shared", "huffman"]
    stages = [s["bytes"] for s in c["stages"]]
    assert stages[0] > stages[1] > stages[2] >= stages[3]
    assert c["ratio_vs_float32"] == pytest.approx(stages[0] / c["bytes_total"])
    weighted = [l for l in c["layers"] if l["params"]]
    assert len(weighted) == 3
    for l in weighted:
        assert set(l) >= {"name", "kept", "index_bits", "codebook_bits", "bytes"}
        assert l["distinct_values"] <= 8  # 2^3, the pruned zero included
    assert report["sharing"]["bits"] == {"conv": 3, "fc": 3, "logits": 3}
    assert any(l["format"].endswith("+huffman") for l in report["layers"])
    assert (out / "compression.png").stat().st_size > 1000
    assert (out / "shared.keras").exists()
    assert main(["run", str(out), "--on", "host"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["mismatches"]["host_vs_reference"] == 0


def test_share_weights_errors(small_keras, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compile", str(small_keras), "--out", str(tmp_path / "a"), "--share-weights", "7"])
    assert e.value.code == 2
    assert "codebook bits are 1..5" in capsys.readouterr().err
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(b"TFL3" + bytes(100))
    assert main(["compile", str(tfl), "--out", str(tmp_path / "c"), "--share-weights", "4"]) == 2
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.convert
def test_share_weights_auto_chooses_bits_on_a_held_out_split(tmp_path, monkeypatch):
    """compile with --share-weights auto (the pipeline, so the model trains after the split is
    carved): the validation split is held out of training, pruning, centroid fine-tuning and
    calibration; the bits chosen per layer are recorded; each layer's int8 weights in the
    .tflite take at most 2^bits values; and every choice follows the rule on that split: the
    fewest of 2..5 bits whose sharing (earlier layers shared at their choice) costs at most
    max_drop accuracy, 5 when none does."""
    import tf_keras as keras

    import importlib

    train_mod = importlib.import_module("toolchain.models.train")  # the package exports train()
    magnitude = importlib.import_module("toolchain.prune.magnitude")
    convert = importlib.import_module("toolchain.quantize.convert")
    from toolchain import pipeline
    from toolchain.data.datasets import load_dataset
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.models.train import evaluate
    from toolchain.plan.lower import lower_graph
    from toolchain.quantize import sharing

    seen = {}

    def spy(module, name, arg):
        real = getattr(module, name)

        def wrapper(*a, **kw):
            seen.setdefault(name, []).append(a[arg])
            return real(*a, **kw)
        monkeypatch.setattr(module, name, wrapper)

    spy(train_mod, "train", 1)
    spy(magnitude, "prune_gradual", 1)
    spy(sharing, "share_weights", 1)
    spy(sharing, "choose_bits", 1)
    spy(convert, "to_int8_tflite", 1)

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Dense(32, activation="relu", name="fc")(keras.layers.Flatten()(x))
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="logits")(x))
    spec = sharing.ShareSpec(bits="auto", epochs=1)
    out = tmp_path / "auto"
    report = pipeline.compile_model(None, out, sparsity=0.6, data="digits", seed=0,
                                    keras_model=model, name="auto", train_epochs=6,
                                    prune_epochs=2, share=spec, optimize="size")

    # the split: a seeded fifth of the training split, in nothing but the choice of bits
    rest, holdout = sharing.holdout_split(load_dataset("digits"), seed=0)
    np.testing.assert_array_equal(seen["choose_bits"][0], holdout.x)
    for name in ("train", "prune_gradual", "share_weights"):
        (ds,) = seen[name]
        np.testing.assert_array_equal(ds.x_train, rest.x_train, err_msg=name)
    np.testing.assert_array_equal(seen["to_int8_tflite"][0], rest.x_train)
    chosen_on = report["compression"]["codebook_bits_chosen_on"]
    assert chosen_on == report["sharing"]["bits_chosen_on"] == holdout.describe()
    assert chosen_on["split"] == "validation" and chosen_on["samples"] == len(holdout.y) == 269
    assert chosen_on["train_samples"] == len(rest.x_train) == 1347 - 269
    assert json.loads((out / "report.json").read_text())["compression"]["codebook_bits_chosen_on"] \
        == chosen_on

    # the bits, recorded per layer and honoured by the int8 weights
    bits = report["sharing"]["bits"]
    assert set(bits) == {"conv", "fc", "logits"} and set(bits.values()) <= set(sharing.AUTO_BITS)
    recorded = {l["name"]: l for l in report["compression"]["layers"] if l["params"]}
    layers = [l for l in lower_graph(load_tflite((out / "model_int8.tflite").read_bytes(), "a"))
              if l.weights is not None]
    assert len(layers) == 3
    for layer in layers:
        (owner,) = [k for k in bits if f"/{k}/" in f"/{layer.name}/"]
        entry = recorded[layer.name]
        assert entry["shared_bits"] == bits[owner], (owner, entry)
        assert np.unique(layer.weights).size <= 1 << bits[owner], (owner, layer.name)
        # a palette's codes need no more than the chosen bits (optimize size picks palettes
        # for the FC layers; the 72-weight conv is smaller dense than with a palette header)
        if entry["format"].startswith("palette"):
            assert entry["codebook_bits"] <= bits[owner], entry
    assert sum(e["format"].startswith("palette") for e in recorded.values()) >= 2

    # the rule, re-checked on the held-out split from the pruned model (pruned.keras)
    pruned = keras.models.load_model(out / "pruned.keras", compile=False)
    base = evaluate(pruned, holdout.x, holdout.y)
    for layer in sharing.shareable_layers(pruned):
        ws = layer.get_weights()
        drops = {}
        for b in sharing.AUTO_BITS:
            shared = sharing.cluster_kernel(layer.name, ws[0], b, spec.init, 0)
            layer.set_weights([shared.kernel(), *ws[1:]])
            drops[b] = base - evaluate(pruned, holdout.x, holdout.y)
        b = bits[layer.name]
        assert all(drops[s] > spec.max_drop for s in sharing.AUTO_BITS if s < b), (layer.name, drops)
        assert b == sharing.AUTO_BITS[-1] or drops[b] <= spec.max_drop, (layer.name, drops)
        layer.set_weights([sharing.cluster_kernel(layer.name, ws[0], b, spec.init, 0).kernel(),
                           *ws[1:]])
