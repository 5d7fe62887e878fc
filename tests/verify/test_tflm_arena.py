"""TFLM's arena use (RecordingMicroAllocator via the tflite_micro package)."""
from pathlib import Path

import numpy as np
import pytest

from toolchain.errors import InputFileError, ToolchainError
from toolchain.verify.tflm_arena import parse_allocations, tflm_arena


def _conv_model(side: int, to_int8) -> bytes:
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((side, side, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3)(x))
    return to_int8(model, np.random.default_rng(0).random((8, side, side, 3)).astype(np.float32))


def _biggest_op_activation_bytes(tflite: bytes) -> int:
    """max over ops of its non-constant input bytes + output bytes: all live at once."""
    from toolchain.ir.tflite_import import load_tflite

    graph = load_tflite(tflite)
    return max(sum(graph.tensor(i).size_bytes for i in (*op.inputs, *op.outputs)
                   if i >= 0 and not graph.tensor(i).is_constant) for op in graph.ops)


@pytest.mark.convert
@pytest.mark.slow
def test_arena_covers_live_activations_and_grows_with_them(to_int8):
    small, big = _conv_model(8, to_int8), _conv_model(16, to_int8)
    a, b = tflm_arena(small), tflm_arena(big)
    for tfl, r in ((small, a), (big, b)):
        assert r["arena_bytes"] == r["head_bytes"] + r["tail_bytes"] > 0
        # the first conv's int8 input and output: 8*8*3 + 8*8*8 = 704 bytes for side 8
        assert r["head_bytes"] >= _biggest_op_activation_bytes(tfl)
        assert {"TfLiteEvalTensor data", "NodeAndRegistration struct"} <= set(r["records"])
        assert all(v > 0 for v in r["records"].values())
        assert r["unrecorded_tail_bytes"] >= 0
    assert _biggest_op_activation_bytes(small) == 8 * 8 * (3 + 8)
    # 4x the activations, same ops and tensors: only the planned head grows
    assert b["head_bytes"] >= a["head_bytes"] + 3 * _biggest_op_activation_bytes(small)
    assert b["arena_bytes"] > a["arena_bytes"]
    assert b["records"]["TfLiteEvalTensor data"] == a["records"]["TfLiteEvalTensor data"]


def test_corrupt_models_raise():
    valid = (Path(__file__).parents[1] / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite").read_bytes()
    assert tflm_arena(valid)["arena_bytes"] > 0
    with pytest.raises(InputFileError, match="no 'TFL3' identifier"):
        tflm_arena(b"\x00" * 64)
    with pytest.raises(InputFileError, match="corrupt TFLite flatbuffer"):
        tflm_arena(valid[: len(valid) // 2])


def test_parser_is_strict():
    line = ("[RecordingMicroAllocator] 'TfLiteEvalTensor data' used 120 bytes with alignment "
            "overhead (requested 120 bytes for 5 allocations)")
    total = "[RecordingMicroAllocator] Arena allocation total 1264 bytes"
    ok = parse_allocations(f"noise\n{total}\n{line}\n")
    assert ok["arena_bytes"] == 1264 and ok["records"] == {"TfLiteEvalTensor data": 120}
    with pytest.raises(ToolchainError, match="no .*Arena allocation total"):
        parse_allocations(line)
    with pytest.raises(ToolchainError, match="no .*record lines"):
        parse_allocations(total)
    with pytest.raises(ToolchainError, match="unexpected line"):
        parse_allocations(f"{total}\n{line}\n[RecordingMicroAllocator] Arena total: 5")
    with pytest.raises(ToolchainError, match="head 10 \\+ tail 10 bytes != total 1264"):
        parse_allocations(f"{total}\n[RecordingMicroAllocator] Arena allocation head 10 bytes\n"
                          f"[RecordingMicroAllocator] Arena allocation tail 10 bytes\n{line}")
