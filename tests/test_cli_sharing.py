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
    assert main(["compile", str(small_keras), "--out", str(tmp_path / "b"), "--huffman"]) == 2
    assert "--share-weights" in capsys.readouterr().err
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(b"TFL3" + bytes(100))
    assert main(["compile", str(tfl), "--out", str(tmp_path / "c"), "--share-weights", "4"]) == 2
    assert not (tmp_path / "c").exists()
