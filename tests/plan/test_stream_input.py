"""Streamed input (--stream-input, issue 22, toolchain/plan/stream.py): the model input is not
in the arena; READ_INPUT layers fetch its rows through the application's reader as the first
row bands need them. Checked against TFLM byte for byte on the host (plain C and the DSP
kernels' C emulation) and in QEMU, with every row read exactly once and in order, and the
runtime's checks of the streamed tensor, the READ_INPUT records and a missing reader."""
import ctypes

import numpy as np
import pytest

from opcheck import poker
from qemu_run import qemu_outputs
from requires import needs
from toolchain.enums import OpCode

H, W, C = 24, 16, 3


@pytest.fixture(scope="module")
def image_tflite():
    """conv 3x3 stride 2 -> depthwise 3x3 -> conv 1x1 -> conv 3x3 stride 2 -> global average
    pool -> FC on a 24x16x3 image: the input is the largest tensor, as in MobileNet."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    keras.utils.set_random_seed(5)
    L = keras.layers
    inp = keras.Input((H, W, C), batch_size=1)
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(8, 1, activation="relu")(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    out = L.Dense(4)(L.GlobalAveragePooling2D()(x))
    xf = np.random.default_rng(5).uniform(-1, 1, size=(6, H, W, C)).astype(np.float32)
    return to_int8_tflite(keras.Model(inp, out), xf), xf


def _plans(image_tflite):
    from toolchain.pipeline import input_samples, plan_model, reference

    tflite, xf = image_tflite
    whole = plan_model(tflite, "stream")
    streamed = plan_model(tflite, "stream", stream_input=True)
    xq = input_samples(whole.graph, xf)
    return whole, streamed, xq, reference(tflite, xq)


@pytest.mark.convert
def test_a_streamed_input_is_read_in_row_bands_bit_exact_on_the_host(image_tflite, tmp_path):
    """The input leaves the arena: READ_INPUT layers, banded with the first convolutions, fetch
    each of its rows once and in order, the arena shrinks below the input's own size, and every
    output byte equals TFLM's, in plain C and in the DSP kernels' C emulation."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import HostModel

    whole, plan, xq, ref = _plans(image_tflite)
    x = plan.graph.tensors[plan.graph.inputs[0]]
    assert x.streamed and x.index not in plan.arena.offsets
    reads = [l for l in plan.layers if l.opcode == OpCode.READ_INPUT]
    assert len(reads) > 2 and plan.layers[0].opcode == OpCode.READ_INPUT
    assert plan.arena.arena_bytes < H * W * C < whole.arena.arena_bytes
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    for defines in ((), ("ES_FORCE_DSP",)):
        lib = build_host_library(tmp_path / "src", tmp_path / f"build{len(defines)}", defines=defines)
        model = HostModel(lib)
        assert model.streamed
        ours = model.run(xq).reshape(ref.shape)
        assert np.count_nonzero(ours != ref) == 0, defines
        rows = [r for first, n in model.rows_read for r in range(first, first + n)]
        assert rows == list(range(H)) * len(xq), model.rows_read


@pytest.mark.convert
def test_the_runtime_checks_a_streamed_input(image_tflite, tmp_path):
    """es_model_init refuses a READ_INPUT reading past the input's rows or naming another
    input, a streamed tensor read by another op or in the arena, the input unflagged (then
    in an arena too small for it), and es_model_invoke without a
    reader returns ES_ERR_NO_READER; es_model_input gives NULL for a streamed input."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.encode import format as fmt
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    _, plan, _, _ = _plans(image_tflite)
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    lib_path = build_host_library(tmp_path / "src", tmp_path / "build")
    blob = plan.blob.data
    h = fmt.HEADER.unpack(blob)
    assert init_status(lib_path, blob) == "ES_OK"

    poked = poker(lib_path, blob)

    def rec(i):
        at = h["layers_offset"] + i * fmt.LAYER.size
        return at, fmt.LAYER.unpack(blob, at)

    read_at, read = rec(0)
    params = read["params_offset"]
    last = max(i for i, l in enumerate(plan.layers) if l.opcode == OpCode.READ_INPUT)
    last_params = rec(last)[1]["params_offset"]
    p = fmt.READ_INPUT_PARAMS.offsets()
    first_row = fmt.READ_INPUT_PARAMS.unpack(blob, last_params)["first_row"]
    assert poked(last_params + p["first_row"], "I", first_row + 1) == "ES_ERR_SHAPE"
    assert poked(params + p["row_bytes"], "I", W * C + 1) == "ES_ERR_SHAPE"
    assert poked(params + p["input_index"], "I", 1) == "ES_ERR_TENSOR_BOUNDS"
    streamed = read["input"][0]
    conv_at, conv = rec(1)
    assert plan.layers[1].opcode == OpCode.CONV_2D
    assert poked(conv_at + fmt.LAYER.offsets()["input"], "H", streamed) == "ES_ERR_TYPE"
    out_t = h["tensors_offset"] + conv["output"] * fmt.TENSOR.size
    # an arena tensor flagged streamed: it claims arena bytes no streamed tensor has
    assert poked(out_t + fmt.TENSOR.offsets()["flags"], "H", fmt.TENSOR_STREAMED) == "ES_ERR_SHAPE"
    in_t = h["tensors_offset"] + streamed * fmt.TENSOR.size
    # the input unflagged is an arena tensor, and the whole input is larger than the arena
    assert poked(in_t + fmt.TENSOR.offsets()["flags"], "H", 0) == "ES_ERR_TENSOR_BOUNDS"
    assert poked(in_t + fmt.TENSOR.offsets()["arena_offset"], "I", 4) == "ES_ERR_SHAPE"

    lib = ctypes.CDLL(str(lib_path))
    lib.es_model_input.restype = ctypes.c_void_p
    lib.es_status_name.restype = ctypes.c_char_p
    blob_buf = (ctypes.c_uint64 * ((len(blob) + 7) // 8))()
    ctypes.memmove(blob_buf, blob, len(blob))
    arena = (ctypes.c_uint64 * ((plan.arena.arena_bytes + 7) // 8))()
    model = (ctypes.c_uint64 * 32)()
    assert lib.es_model_init(model, blob_buf, len(blob), arena, plan.arena.arena_bytes) == 0
    n = ctypes.c_uint32(0)
    assert lib.es_model_input(model, 0, ctypes.byref(n)) is None and n.value == H * W * C
    assert lib.es_status_name(lib.es_model_invoke(model)).decode() == "ES_ERR_NO_READER"


@pytest.mark.convert
def test_only_an_int8_image_input_can_be_streamed():
    """A float32 input (the converter's default; the model's QUANTIZE needs it whole) is
    refused, naming the input and the remedy."""
    import tf_keras as keras

    from toolchain.errors import UnsupportedOpError
    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite

    inp = keras.Input((8, 8, 1), batch_size=1)
    model = keras.Model(inp, keras.layers.Conv2D(2, 3)(inp))
    xf = np.random.default_rng(0).uniform(-1, 1, size=(4, 8, 8, 1)).astype(np.float32)
    with pytest.raises(UnsupportedOpError, match="--stream-input: input '.*' is float32.*int8"):
        plan_model(to_int8_tflite(model, xf, float_io=True), "f", stream_input=True)


@pytest.mark.convert
def test_a_ram_budget_the_input_cannot_meet_names_stream_input(image_tflite, tmp_path):
    """A budget below what the whole input needs: the error names --stream-input and the
    smallest budget with it, which then compiles."""
    from toolchain.errors import BudgetError
    from toolchain.pipeline import check_ram_budget, plan_model

    tflite, _ = image_tflite
    whole = plan_model(tflite, "stream", ram_budget=1)
    streamed = plan_model(tflite, "stream", ram_budget=1, stream_input=True)
    assert streamed.arena.arena_bytes < whole.arena.arena_bytes
    with pytest.raises(BudgetError, match=f"with --stream-input .* the smallest is "
                                          f"{streamed.arena.arena_bytes:,} bytes"):
        check_ram_budget(whole, 1, lambda: streamed)
    check_ram_budget(streamed, streamed.arena.arena_bytes)


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.slow
@needs("arm-none-eabi-gcc", "qemu-system-arm")
def test_a_streamed_input_is_bit_exact_in_qemu(image_tflite, tmp_path):
    """The firmware's reader hands the test vectors over row by row (templates/firmware_main.c.j2)."""
    _, plan, xq, ref = _plans(image_tflite)
    ours = qemu_outputs(plan, xq, tmp_path, "stream")
    assert np.count_nonzero(ours.reshape(ref.shape) != ref) == 0


@pytest.mark.convert
def test_the_cli_streams_an_int8_input_and_refuses_a_float_one(tmp_path, capsys):
    """`compile --stream-input`: report.json says so and the blob reads its input through
    READ_INPUT; on the converter's default float32 input it exits 2 with one line naming the
    input and the remedy, and writes nothing."""
    import json
    from pathlib import Path

    from toolchain.cli import main
    from toolchain.encode import format as fmt

    files = Path(__file__).resolve().parents[1] / "bad_inputs" / "files"
    out = tmp_path / "ok"
    assert main(["compile", str(files / "valid_8x8x1_int8.tflite"), "--stream-input",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["stream_input"] is True
    assert "input streamed" in capsys.readouterr().out
    header = (out / "src" / "model.h").read_text()
    assert "#define ES_MODEL_INPUT_STREAMED 1" in header
    assert "#define ES_MODEL_INPUT_ROW_BYTES 8u" in header
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    inp = keras.Input((8, 8, 1), batch_size=1)
    xf = np.random.default_rng(0).uniform(-1, 1, size=(4, 8, 8, 1)).astype(np.float32)
    float_io = tmp_path / "float_io.tflite"
    float_io.write_bytes(to_int8_tflite(keras.Model(inp, keras.layers.Conv2D(2, 3)(inp)), xf,
                                        float_io=True))
    bad = tmp_path / "bad"
    assert main(["compile", str(float_io), "--stream-input", "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--stream-input: input '" in err and "float32" in err
    assert not bad.exists()
    assert fmt.OpCode.READ_INPUT == 255
