"""Models as the field ships them: the standard converter's output (a dynamic batch of 1) is
taken as it is, a .tflite without data is verified on generated inputs, and a secondary
reference that refuses a model is reported as unavailable instead of stopping the run."""
import json

import numpy as np
import pytest

from toolchain.cli import main


@pytest.fixture(scope="module")
def standard_tflite(tmp_path_factory):
    """A small CNN converted with the plain `TFLiteConverter.from_keras_model` call (Keras
    batch None, so shape_signature -1) and a representative dataset for full int8."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, activation="relu")(inp)
    x = keras.layers.Dense(10)(keras.layers.Flatten()(x))
    model = keras.Model(inp, keras.layers.Softmax()(x))
    calib = np.random.default_rng(0).random((16, 8, 8, 1)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    path = tmp_path_factory.mktemp("standard") / "standard.tflite"
    path.write_bytes(converter.convert())
    return path


def _signature(tflite: bytes) -> list[int]:
    from toolchain.ir.tflite_import import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    sg = model.subgraphs[0]
    return [int(d) for d in sg.tensors[sg.inputs[0]].shapeSignature]


@pytest.mark.convert
def test_standard_converter_output_compiles_and_runs_bit_exact(standard_tflite, tmp_path, capsys):
    assert _signature(standard_tflite.read_bytes()) == [-1, 8, 8, 1]  # what the field ships
    out = tmp_path / "out"
    assert main(["compile", str(standard_tflite), "--out", str(out)]) == 0
    assert main(["run", str(out), "--on", "host"]) == 0
    printed = capsys.readouterr().out
    assert "64 generated inputs" in printed
    row = [l for l in printed.splitlines() if l.startswith("standard ")]
    assert len(row) == 1 and "generated inputs" in row[0]
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == "generated"
    assert report["samples"]["host"] == 64
    assert report["mismatches"]["host_vs_reference"] == 0
    assert report["mismatches"]["reference_tflm_vs_litert"] == 0
    assert report["secondary_reference"] == {"backend": "litert BUILTIN_REF", "available": True,
                                             "reason": None}
    assert all(v is None for v in report["accuracy"].values())
    with np.load(out / "data.npz") as d:
        assert d.files == ["x"]
        x = d["x"]
    assert x.shape == (64, 8, 8, 1) and x.min() == -128 and x.max() == 127
    assert len(np.unique(x)) == 256


@pytest.mark.convert
def test_npz_without_labels_verifies_without_accuracy(standard_tflite, tmp_path, capsys):
    data = tmp_path / "unlabelled.npz"
    np.savez(data, x=np.random.default_rng(1).random((12, 8, 8, 1)).astype(np.float32))
    out = tmp_path / "out"
    assert main(["compile", str(standard_tflite), "--out", str(out), "--data", str(data)]) == 0
    assert main(["run", str(out), "--on", "host"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == "unlabelled" and report["samples"]["host"] == 12
    assert report["mismatches"]["host_vs_reference"] == 0
    assert report["accuracy"]["int8_reference"] is None and report["accuracy"]["int8_host"] is None


def _with_op_versions(tflite: bytes, version: int) -> bytes:
    """The same model with every operator code's version set to `version`: LiteRT refuses
    versions it does not know, TFLM does not look at them."""
    import flatbuffers

    from toolchain.ir.tflite_import import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    for code in model.operatorCodes:
        code.version = version
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.convert
def test_secondary_reference_that_refuses_the_model_is_unavailable(standard_tflite, tmp_path,
                                                                   capsys):
    model = tmp_path / "versioned.tflite"
    model.write_bytes(_with_op_versions(standard_tflite.read_bytes(), 99))
    out = tmp_path / "out"
    assert main(["compile", str(model), "--out", str(out)]) == 0
    assert main(["run", str(out), "--on", "host"]) == 0
    assert "secondary reference unavailable" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["mismatches"]["host_vs_reference"] == 0  # TFLM, the oracle, ran
    assert report["mismatches"]["reference_tflm_vs_litert"] is None
    second = report["secondary_reference"]
    assert second["available"] is False and "version '99'" in second["reason"]


def test_generated_int8_spans_the_range_and_is_seeded():
    from toolchain.data.datasets import generated_int8

    a, b, c = generated_int8((8, 8), 64, seed=0), generated_int8((8, 8), 64, seed=0), \
        generated_int8((8, 8), 64, seed=1)
    assert a.dtype == np.int8 and a.shape == (64, 8, 8)
    assert (a == b).all() and not (a == c).all()
    assert (a[0] == -128).all() and (a[1] == 127).all() and len(np.unique(a[2:])) == 256
