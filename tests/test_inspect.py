"""`edgesparse inspect`: the per-layer table and model summary before compiling; unsupported
ops are listed with their reason and exit 3, unreadable models exit 2."""
import json
from pathlib import Path

import numpy as np
import pytest

from toolchain.cli import main
from toolchain.inspect_model import UNSUPPORTED_EXIT, inspect_model

FILES = Path(__file__).resolve().parent / "bad_inputs" / "files"
VALID = FILES / "valid_8x8x1_int8.tflite"  # Flatten (RESHAPE) -> Dense(4)


def _with_op(tflite: bytes, position: int, op_name: str) -> bytes:
    """The model with op `position`'s operator code replaced by builtin `op_name`."""
    import flatbuffers

    from toolchain.ir.tflite_import import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    code = s.OperatorCodeT()
    code.builtinCode = getattr(s.BuiltinOperator, op_name)
    code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    code.version = 1
    model.operatorCodes.append(code)
    model.subgraphs[0].operators[position].opcodeIndex = len(model.operatorCodes) - 1
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_supported_model_table_json_and_exit_0(capsys):
    assert main(["inspect", str(VALID), "--board", "mps2-an386"]) == 0
    text = capsys.readouterr().out
    assert "FULLY_CONNECTED" in text and "RESHAPE" in text and "supported: yes" in text
    assert "MACs: 256" in text and "estimated arena:" in text
    assert main(["inspect", str(VALID), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["supported"] is True and info["board"] == "mps2-an386" and info["dsp"] is True
    fc = [r for r in info["layers"] if r["op"] == "FULLY_CONNECTED"]
    assert len(fc) == 1 and fc[0]["inputs"] == [[1, 64]] and fc[0]["output"] == [1, 4]
    assert fc[0]["params"] == 64 * 4 and fc[0]["macs"] == 256  # the converter dropped the zero bias
    assert fc[0]["formats"][0] == "dense" and fc[0]["estimated_instructions"] > 0
    s = info["summary"]
    assert s["macs"] == 256 and s["op_mix"] == {"RESHAPE": 1, "FULLY_CONNECTED": 1}
    assert s["weight_bytes"] == 64 * 4 and s["arena_bytes"] > 0 and s["blob_bytes"] > 0
    # the plain-C board's cost model differs from the DSP one
    m3 = inspect_model(VALID, board="mps2-an385")
    assert m3["dsp"] is False
    assert [r["estimated_instructions"] for r in m3["layers"]] != \
        [r["estimated_instructions"] for r in info["layers"]]


def test_unsupported_op_is_listed_with_its_reason_and_exit_3(tmp_path, capsys):
    model = tmp_path / "with_cos.tflite"
    model.write_bytes(_with_op(VALID.read_bytes(), 1, "COS"))
    assert main(["inspect", str(model)]) == UNSUPPORTED_EXIT
    text = capsys.readouterr().out
    assert "COS" in text and "NO" in text and "not supported by the edgesparse runtime" in text
    assert f"supported: NO (exit code {UNSUPPORTED_EXIT})" in text
    assert main(["inspect", str(model), "--json"]) == UNSUPPORTED_EXIT
    info = json.loads(capsys.readouterr().out)
    assert info["supported"] is False and info["summary"]["unsupported_ops"] == 1
    cos = info["layers"][1]
    assert cos["op"] == "COS" and cos["supported"] is False and "COS" in cos["reason"]
    assert info["layers"][0]["supported"] is True  # the RESHAPE before it is still analysed
    assert info["summary"]["arena_bytes"] is None


@pytest.mark.parametrize("name,reason", [
    ("dynamic_height.tflite", "dynamic dimension 1"),
    ("float32.tflite", "is float32"),
])
def test_model_level_refusals_exit_3_with_the_table(name, reason, capsys):
    assert main(["inspect", str(FILES / name)]) == UNSUPPORTED_EXIT
    text = capsys.readouterr().out
    assert reason in text and "#  op" in text


@pytest.mark.parametrize("name", ["empty.tflite", "truncated.tflite", "no_such_model.tflite"])
def test_unreadable_model_exit_2(name, capsys):
    assert main(["inspect", str(FILES / name)]) == 2
    assert "edgesparse: error:" in capsys.readouterr().err


def test_macs_of_conv_and_depthwise():
    """CONV_2D: output elements x k_h x k_w x input channels; DEPTHWISE: x k_h x k_w."""
    from toolchain.inspect_model import macs
    from toolchain.ir.graph import Graph, Tensor

    def t(i, shape, const=False):
        data = np.zeros(shape, np.int8) if const else None
        return Tensor(i, f"t{i}", tuple(shape), "int8", np.ones(1, np.float32),
                      np.zeros(1, np.int64), 0, data)

    g = Graph("g", [t(0, (1, 10, 10, 3)), t(1, (8, 3, 3, 3), True), t(2, (1, 8, 8, 8)),
                    t(3, (1, 3, 3, 8), True)], [], [0], [2])
    assert macs(g, "CONV_2D", [0, 1], [2], {}) == 8 * 8 * 8 * 27
    assert macs(g, "DEPTHWISE_CONV_2D", [2, 3], [2], {}) == 8 * 8 * 8 * 9
    assert macs(g, "ADD", [0, 0], [0], {}) == 0


@pytest.mark.convert
def test_keras_file_is_converted_then_inspected(tmp_path, capsys):
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((5, 3))
    model = keras.Model(inp, keras.layers.Dense(7)(keras.layers.Flatten()(inp)))
    model.save(tmp_path / "m.keras")
    assert main(["inspect", str(tmp_path / "m.keras"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "generated calibration inputs" in info["note"]
    assert info["summary"]["macs"] == 15 * 7 and info["supported"] is True
    assert main(["inspect", str(FILES / "text.keras")]) == 2
    assert "not a Keras model" in capsys.readouterr().err
