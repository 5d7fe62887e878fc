"""A .tflite converted with float32 input and output (TFLite's default) through the CLI:
compile, run on the host and in QEMU on a Cortex-M3 (soft-float division and multiply) and a
Cortex-M4 (FPU), every output byte compared with TFLM's."""
import json

import pytest
from tiers import first_fast  # noqa: E402

from toolchain.cli import main

pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def float_io_tflite(tmp_path_factory):
    import tf_keras as keras

    from toolchain.data.datasets import load_dataset
    from toolchain.quantize.convert import to_int8_tflite

    ds = load_dataset("digits")
    keras.utils.set_random_seed(0)
    inp = keras.Input(ds.input_shape, batch_size=1)
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Dense(24, activation="relu")(x))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds.x_train, ds.y_train, epochs=3, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("float_io") / "digits_float_io.tflite"
    path.write_bytes(to_int8_tflite(model, ds.x_train, float_io=True))
    return path


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.parametrize("board", first_fast(["mps2-an385", "mps2-an386"]))  # M3: no DSP, no FPU
def test_float_io_model_compiles_and_runs_bit_exact(float_io_tflite, tmp_path, board):
    out = tmp_path / board
    assert main(["compile", str(float_io_tflite), "--out", str(out), "--data", "digits",
                 "--board", board]) == 0
    header = (out / "src" / "model.h").read_text()
    assert "#define ES_MODEL_INPUT_FLOAT32 1" in header and "#define ES_MODEL_OUTPUT_FLOAT32 1" in header
    assert "ES_MODEL_INPUT_BYTES 256u" in header and "ES_MODEL_OUTPUT_BYTES 40u" in header
    assert main(["run", str(out), "--on", "host"]) == 0
    assert main(["run", str(out), "--on", "qemu"]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["io_dtypes"] == {"input": "float32", "output": "float32"}
    ops = [layer["op"] for layer in r["layers"]]
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops
    m = r["mismatches"]
    assert m["host_vs_reference"] == 0 and m["qemu_vs_reference"] == 0, m
    assert m["qemu_dense_vs_reference"] == 0, m
    assert r["samples"]["host"] == 450 and r["samples"]["qemu"] == 20
    acc = r["accuracy"]
    # decoded as float32 probabilities: a trained model is far above chance (0.1); decoded
    # as raw bytes the argmax would land on a float's high byte, near chance
    assert acc["int8_host"] == acc["int8_reference"] and acc["int8_host"] > 0.5, acc
    assert r["layers"][0]["instructions"] > 0 and r["layers"][-1]["instructions"] > 0
