"""es_model_init rejects every corrupted blob with its own status code, before any kernel runs."""
import struct
import zlib

import numpy as np
import pytest

from toolchain.encode import format as fmt



@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A small conv + FC model compiled with CSR8 layers, its blob and host library."""
    import tf_keras as keras

    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.targets.build import build_host_library

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2), batch_size=1)
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5)(x)
    model = keras.Model(inp, x)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            ws[0][rng.random(ws[0].shape) < 0.8] = 0
            layer.set_weights(ws)
    tflite = to_int8_tflite(model, rng.random((20, 6, 6, 2)).astype(np.float32))
    plan = plan_model(tflite, "v", force_format="csr8")  # the tests corrupt its CSR8 tables
    assert "csr8" in [c.format for c in plan.choices]
    work = tmp_path_factory.mktemp("validation")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, work / "src")
    return plan, build_host_library(work / "src", work / "build")


def _status(compiled, blob, **kw):
    from toolchain.targets.host import init_status

    return init_status(compiled[1], bytes(blob), **kw)


def _recrc(blob: bytearray) -> bytearray:
    h = fmt.HEADER.unpack(blob)
    crc = zlib.crc32(bytes(blob[h["header_bytes"]:h["blob_bytes"]])) & 0xFFFFFFFF
    blob[fmt.HEADER.offsets()["crc32"]:fmt.HEADER.offsets()["crc32"] + 4] = struct.pack("<I", crc)
    return blob


def _poke(blob: bytearray, offset: int, code: str, value) -> bytearray:
    struct.pack_into("<" + code, blob, offset, value)
    return _recrc(blob)


def _first_layer(plan, fmt_name):
    i = next(i for i, c in enumerate(plan.choices) if c.format == fmt_name)
    h = fmt.HEADER.unpack(plan.blob.data)
    rec = fmt.LAYER.unpack(plan.blob.data, h["layers_offset"] + i * fmt.LAYER.size)
    return i, h, rec


@pytest.mark.convert
def test_valid_blob_initialises(compiled):
    assert _status(compiled, compiled[0].blob.data) == "ES_OK"


@pytest.mark.convert
def test_header_errors(compiled):
    blob = compiled[0].blob.data
    off = fmt.HEADER.offsets()
    assert _status(compiled, blob[:10]) == "ES_ERR_TRUNCATED"
    assert _status(compiled, blob[:-4]) == "ES_ERR_TRUNCATED"
    assert _status(compiled, b"XXXX" + blob[4:]) == "ES_ERR_MAGIC"
    assert _status(compiled, _poke(bytearray(blob), off["version"], "H", 99)) == "ES_ERR_VERSION"
    flipped = bytearray(blob)
    flipped[-1] ^= 0x40
    assert _status(compiled, flipped) == "ES_ERR_CRC"
    assert _status(compiled, blob, arena_bytes=compiled[0].arena.arena_bytes - 8) == "ES_ERR_ARENA_TOO_SMALL"
    assert _status(compiled, blob, misalign=4) == "ES_ERR_ALIGNMENT"
    assert _status(compiled, _poke(bytearray(blob), off["layers_offset"], "I", len(blob) - 8)) == \
        "ES_ERR_TABLE_BOUNDS"


@pytest.mark.convert
def test_tensor_and_layer_errors(compiled):
    plan = compiled[0]
    h = fmt.HEADER.unpack(plan.blob.data)
    t0 = h["tensors_offset"]
    t_off = fmt.TENSOR.offsets()
    big = _poke(bytearray(plan.blob.data), t0 + t_off["arena_offset"], "I", h["arena_bytes"])
    assert _status(compiled, big) == "ES_ERR_TENSOR_BOUNDS"
    shape = _poke(bytearray(plan.blob.data), t0 + t_off["bytes"], "I", 7)
    assert _status(compiled, shape) == "ES_ERR_SHAPE"
    l0 = h["layers_offset"]
    l_off = fmt.LAYER.offsets()
    assert _status(compiled, _poke(bytearray(plan.blob.data), l0 + l_off["op"], "B", 77)) == "ES_ERR_OP"
    assert _status(compiled, _poke(bytearray(plan.blob.data), l0 + l_off["format"], "B", 200)) == "ES_ERR_FORMAT"
    assert _status(compiled, _poke(bytearray(plan.blob.data), l0 + l_off["output"], "H", 999)) == \
        "ES_ERR_TENSOR_BOUNDS"


@pytest.mark.convert
def test_layer_flags_must_hold(compiled):
    """ES_LAYER_RQ_WHOLE lets the FC kernels skip their per-inference scan of the quantization
    tables, so es_model_init refuses it on a layer whose tables do not bear it out, on any other
    op, and any other flag bit (ES_LAYER_RQ_PER_TENSOR too off FULLY_CONNECTED and CONV_2D; on
    a CONV_2D whose scratch has no room for the per-channel tables, too; ES_LAYER_BIAS_FOLD on
    weights that are not a palette decoded at init)."""
    plan = compiled[0]
    data = plan.blob.data
    h = fmt.HEADER.unpack(data)
    at = [h["layers_offset"] + i * fmt.LAYER.size for i in range(h["layer_count"])]
    recs = [fmt.LAYER.unpack(data, a) for a in at]
    fc = next(i for i, r in enumerate(recs) if r["op"] == fmt.OpCode.FULLY_CONNECTED)
    assert [r["flags"] for r in recs] == [fmt.LAYER_RQ_WHOLE if i == fc else 0 for i in range(len(recs))]
    flags = fmt.LAYER.offsets()["flags"]
    assert _status(compiled, _poke(bytearray(data), at[0] + flags, "B", fmt.LAYER_RQ_WHOLE)) == "ES_ERR_OP"
    assert _status(compiled, _poke(bytearray(data), at[fc] + flags, "B", 0x09)) == "ES_ERR_OP"
    # ES_LAYER_BIAS_FOLD needs a palette decoded at init; this layer is CSR8
    assert _status(compiled, _poke(bytearray(data), at[fc] + flags, "B", fmt.LAYER_BIAS_FOLD)) == "ES_ERR_FORMAT"
    assert recs[0]["op"] == fmt.OpCode.CONV_2D and recs[1]["op"] == fmt.OpCode.RESHAPE
    assert _status(compiled, _poke(bytearray(data), at[1] + flags, "B", fmt.LAYER_RQ_PER_TENSOR)) == "ES_ERR_OP"
    assert _status(compiled, _poke(bytearray(data), at[0] + flags, "B", fmt.LAYER_RQ_PER_TENSOR)) == "ES_ERR_SHAPE"
    shift = fmt.FC_PARAMS.unpack(data, recs[fc]["params_offset"])["shift_offset"]
    assert _status(compiled, _poke(bytearray(data), shift, "i", -1)) == "ES_ERR_QUANT"
    unflagged = _poke(bytearray(data), at[fc] + flags, "B", 0)
    assert _status(compiled, _poke(unflagged, shift, "i", -1)) == "ES_OK"


@pytest.mark.convert
def test_an_output_over_its_input_is_refused_unless_the_op_runs_in_place(compiled):
    """The arena check (issue 22): FULLY_CONNECTED reads its whole input for every output, so
    its output may not share a byte with it; RESHAPE may lie exactly over its input, not
    shifted by 4 bytes."""
    plan = compiled[0]
    h = fmt.HEADER.unpack(plan.blob.data)
    t_off = fmt.TENSOR.offsets()

    def moved(layer, to_offset):
        t = plan.blob.tensor_index[layer.output]
        return _poke(bytearray(plan.blob.data), h["tensors_offset"] + t * fmt.TENSOR.size +
                     t_off["arena_offset"], "I", to_offset)

    fc = next(l for l in plan.layers if l.opcode == fmt.OpCode.FULLY_CONNECTED)
    reshape = next(l for l in plan.layers if l.opcode == fmt.OpCode.RESHAPE)
    assert plan.arena.offsets[reshape.output] == plan.arena.offsets[reshape.inputs[0]]
    x = plan.arena.offsets[fc.inputs[0]]
    assert _status(compiled, moved(fc, x)) == "ES_ERR_TENSOR_BOUNDS"
    assert _status(compiled, moved(fc, x + 4)) == "ES_ERR_TENSOR_BOUNDS"
    assert _status(compiled, moved(reshape, plan.arena.offsets[reshape.inputs[0]] + 4)) == \
        "ES_ERR_TENSOR_BOUNDS"


@pytest.mark.convert
def test_sparse_index_and_quant_errors(compiled):
    plan = compiled[0]
    _, _, rec = _first_layer(plan, "csr8")
    struct_ = fmt.params_struct(rec["op"], rec["variant"])
    params = struct_.unpack(plan.blob.data, rec["params_offset"])
    csr = fmt.SPARSE.unpack(plan.blob.data, params["weights_offset"])
    # a delta that walks past the last column
    bad = _poke(bytearray(plan.blob.data), csr["index_offset"], "B", 255)
    assert _status(compiled, bad) == "ES_ERR_INDEX"
    # a row count that claims more entries than the table holds
    bad = _poke(bytearray(plan.blob.data), csr["counts_offset"], "H", 0xFFFF)
    assert _status(compiled, bad) == "ES_ERR_INDEX"
    # counts/deltas arrays pointing outside the blob
    bad = _poke(bytearray(plan.blob.data), params["weights_offset"] + fmt.SPARSE.offsets()["values_offset"],
                "I", len(plan.blob.data))
    assert _status(compiled, bad) == "ES_ERR_TABLE_BOUNDS"
    # a requantization shift outside [-31, 30]
    bad = _poke(bytearray(plan.blob.data), params["shift_offset"], "i", 40)
    assert _status(compiled, bad) == "ES_ERR_QUANT"


@pytest.mark.convert
def test_random_corruption_never_crashes(compiled):
    """Flip random bytes (CRC re-sealed so validation goes past the checksum): init either
    accepts or names a problem; under ASan this would catch any out-of-bounds read."""
    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(300):
        blob = bytearray(compiled[0].blob.data)
        for _ in range(int(rng.integers(1, 4))):
            blob[int(rng.integers(fmt.HEADER.size, len(blob)))] = int(rng.integers(0, 256))
        seen.add(_status(compiled, _recrc(blob)))
    assert seen <= {s for s in ("ES_" + x.name for x in fmt.Status)}
    assert len(seen) >= 3
