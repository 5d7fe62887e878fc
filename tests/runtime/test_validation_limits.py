"""Checks es_model_init gained from fuzzing (tests/fuzz/regressions): tables whose arithmetic
would overflow int32 or whose windows leave the input are rejected before any kernel runs,
while every table the encoders write is still accepted."""
import struct
import zlib

import numpy as np
import pytest

from toolchain.encode import format as fmt



@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """conv -> avg pool -> FC, planned with every sparse format; one host library (the
    runtime takes any blob, so one build serves every plan)."""
    import tf_keras as keras

    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.targets.build import build_host_library

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2), batch_size=1)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6)(x)
    model = keras.Model(inp, x)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            ws[0][rng.random(ws[0].shape) < 0.6] = 0
            layer.set_weights(ws)
    tflite = to_int8_tflite(model, rng.random((16, 6, 6, 2)).astype(np.float32))
    out = {f: plan_model(tflite, "lim", force_format=f) for f in ("csr8", "csr16", "block1x4")}
    work = tmp_path_factory.mktemp("limits")
    p = out["csr16"]
    write_model_sources(p.graph, p.layers, p.choices, p.arena, p.blob, work / "src")
    return out, build_host_library(work / "src", work / "build")


def _status(lib, blob):
    from toolchain.targets.host import init_status

    return init_status(lib, bytes(blob))


def _sealed(blob: bytearray) -> bytearray:
    h = fmt.HEADER.unpack(blob)
    crc = zlib.crc32(bytes(blob[h["header_bytes"]:h["blob_bytes"]])) & 0xFFFFFFFF
    struct.pack_into("<I", blob, fmt.HEADER.offsets()["crc32"], crc)
    return blob


def _layer(plan, op):
    h = fmt.HEADER.unpack(plan.blob.data)
    for i in range(h["layer_count"]):
        rec = fmt.LAYER.unpack(plan.blob.data, h["layers_offset"] + i * fmt.LAYER.size)
        if rec["op"] == int(op):
            params = fmt.params_struct(op, rec["variant"]).unpack(plan.blob.data, rec["params_offset"])
            return rec, params
    raise AssertionError(f"no {op.name} layer")


@pytest.mark.convert
def test_encoded_tables_are_accepted(plans):
    plans_, lib = plans
    for name, plan in plans_.items():
        assert _status(lib, plan.blob.data) == "ES_OK", name


def _first_row_with(blob, table, n):
    counts = np.frombuffer(blob, "<u2", table["rows"], table["counts_offset"])
    row = int(np.argmax(counts >= n))
    assert counts[row] >= n
    return int(counts[:row].sum())


@pytest.mark.convert
@pytest.mark.parametrize("name,code,step", [("csr16", "H", None), ("block1x4", "H", None),
                                            ("csr8", "B", 0)])
def test_repeated_columns_in_a_row_are_rejected(plans, name, code, step):
    """A row naming a column (block) twice would make more products than cols, which the
    bias bound relies on never happening."""
    plan = plans[0][name]
    _, params = _layer(plan, fmt.OpCode.FULLY_CONNECTED)
    table = fmt.SPARSE.unpack(plan.blob.data, params["weights_offset"])
    k = _first_row_with(plan.blob.data, table, 2)
    blob = bytearray(plan.blob.data)
    size = struct.calcsize("<" + code)
    at = table["index_offset"] + (k + 1) * size
    if step is None:  # absolute index: repeat the previous entry's column
        first = struct.unpack_from("<" + code, blob, at - size)[0]
        struct.pack_into("<" + code, blob, at, first)
    else:  # relative delta: a zero step after the first entry
        struct.pack_into("<" + code, blob, at, step)
    assert _status(plans[1], _sealed(blob)) == "ES_ERR_INDEX"


@pytest.mark.convert
def test_a_block_not_at_a_multiple_of_four_is_rejected(plans):
    """Block 1x4 starts each block at a multiple of 4 (the four-pixel conv kernel reads a
    block's inputs as its group of four columns): a lone block moved one column right is
    refused, and accepted back at its own column."""
    import tf_keras as keras

    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(1)
    inp = keras.Input((16,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(3)(inp))
    w, b = model.layers[-1].get_weights()
    w[:] = 0
    w[4:8, :] = rng.uniform(0.5, 1.0, (4, 3))  # one block per row, columns 4..7
    model.layers[-1].set_weights([w, b])
    plan = plan_model(to_int8_tflite(model, rng.random((8, 16)).astype(np.float32)), "blk",
                      force_format="block1x4")
    _, params = _layer(plan, fmt.OpCode.FULLY_CONNECTED)
    table = fmt.SPARSE.unpack(plan.blob.data, params["weights_offset"])
    at = table["index_offset"]
    blob = bytearray(plan.blob.data)
    assert struct.unpack_from("<H", blob, at)[0] == 4
    assert _status(plans[1], _sealed(blob)) == "ES_OK"
    struct.pack_into("<H", blob, at, 5)
    assert _status(plans[1], _sealed(blob)) == "ES_ERR_INDEX"


@pytest.mark.convert
@pytest.mark.parametrize("op", [fmt.OpCode.FULLY_CONNECTED, fmt.OpCode.CONV_2D])
def test_bias_that_could_overflow_the_accumulator_is_rejected(plans, op):
    plan = plans[0]["csr16"]
    _, params = _layer(plan, op)
    blob = bytearray(plan.blob.data)
    struct.pack_into("<i", blob, params["bias_offset"], -(2**31) + 100)
    assert _status(plans[1], _sealed(blob)) == "ES_ERR_QUANT"
    # a large bias that leaves room for every product is fine
    cols = params["in_features"] if op == fmt.OpCode.FULLY_CONNECTED else \
        params["k_h"] * params["k_w"] * params["in_c"]
    struct.pack_into("<i", blob, params["bias_offset"], 2**31 - 1 - cols * 128 * 128)
    assert _status(plans[1], _sealed(blob)) == "ES_OK"


@pytest.mark.convert
@pytest.mark.parametrize("field,value", [("pad_top", 2), ("stride_h", 60000), ("pad_left", 7)])
def test_pool_windows_outside_the_input_are_rejected(plans, field, value):
    plan = plans[0]["csr16"]
    rec, _ = _layer(plan, fmt.OpCode.AVERAGE_POOL_2D)
    struct_ = fmt.params_struct(fmt.OpCode.AVERAGE_POOL_2D)
    blob = bytearray(plan.blob.data)
    at = rec["params_offset"] + struct_.offsets()[field]
    struct.pack_into("<H", blob, at, value)
    assert _status(plans[1], _sealed(blob)) == "ES_ERR_SHAPE"


@pytest.mark.convert
@pytest.mark.parametrize("field,value", [("pad_top", 3), ("stride_w", 40000)])
def test_conv_windows_outside_the_input_are_rejected(plans, field, value):
    plan = plans[0]["csr16"]
    rec, _ = _layer(plan, fmt.OpCode.CONV_2D)
    struct_ = fmt.params_struct(fmt.OpCode.CONV_2D)
    blob = bytearray(plan.blob.data)
    struct.pack_into("<H", blob, rec["params_offset"] + struct_.offsets()[field], value)
    assert _status(plans[1], _sealed(blob)) == "ES_ERR_SHAPE"
