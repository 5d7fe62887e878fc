"""pairs (ES_FMT_PAIRS): a FULLY_CONNECTED layer's nonzero weights covered by column pairs, int16
weights, the input widened to int16 in scratch. The encoder covers each run of L consecutive
nonzeros with ceil(L / 2) pairs and round-trips; pruned FC layers run bit-exact against TFLM's
reference kernels on the host (C, DSP C, DSP C row by row) and in QEMU (the whole-layer assembly
on M4, per-tensor and per-channel, C on M3); es_model_init rejects damaged tables."""
import numpy as np
import pytest
from blob_edit import host_init, table_fields
from qemu_run import qemu_mismatches, qemu_outputs
from requires import require

from toolchain.encode import format as fmt
from toolchain.encode import pairs

NAME = "pairs"


def test_pairs_cover_each_run_from_the_left_and_round_trip():
    m = np.zeros((4, 9), np.int8)
    m[0, [0, 1, 2]] = [1, -2, 3]       # a run of 3: pairs at 0 and 2
    m[1, [3, 5, 6, 7, 8]] = 4          # runs of 1 and 4: pairs at 3, 5, 7
    m[2, 8] = -128                     # the last column: its pair's second weight is 0
    rows, first, w = pairs.pairs(m)    # row 3: none
    assert rows.tolist() == [0, 0, 1, 1, 1, 2] and first.tolist() == [0, 2, 3, 5, 7, 8]
    assert w.tolist() == [[1, -2], [3, 0], [4, 0], [4, 4], [4, 4], [-128, 0]]
    rng = np.random.default_rng(0)
    for shape, density in (((30, 37), 0.1), ((30, 37), 0.6), ((5, 2), 1.0), ((3, 8), 0.0)):
        m = np.where(rng.random(shape) < density, rng.integers(-128, 128, shape), 0).astype(np.int8)
        blob = b"\0" * 8 + pairs.encode(m, 8)
        np.testing.assert_array_equal(pairs.decode(blob, 8), m)
        assert len(blob) - 8 == pairs.table_bytes(m)
        h = fmt.SPARSE.unpack(blob, 8)
        assert h["entry_count"] == pairs.pairs(m)[1].size
        assert h["values_offset"] % 4 == 0
    assert pairs.scratch_bytes(37) == 76 and pairs.scratch_bytes(38) == 80


def _model(per_tensor=False):
    """Dense 37 -> 40 (ReLU) -> 24 -> 10, rows pruned to densities from 0 to 1 (rows of no
    weights, rows running the 16-pair step), the last input column kept in some rows."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(7)
    keras.utils.set_random_seed(7)
    L = keras.layers
    inp = keras.Input((37,), batch_size=1)
    x = L.Dense(24)(L.Dense(40, activation="relu")(inp))
    model = keras.Model(inp, L.Dense(10)(x))
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            k = ws[0] * rng.uniform(0.5, 3.0, ws[0].shape)  # [in, out]: a row of ours is a column
            keep = rng.random(k.shape) < rng.uniform(0.0, 1.0, k.shape[1])
            keep[:, 0] = False
            keep[-1, ::2] = True
            layer.set_weights([np.where(keep, k, 0).astype(np.float32),
                               ws[1] + rng.normal(0, 0.1, ws[1].shape)])
    xf = rng.uniform(-1.0, 2.0, (6, 37)).astype(np.float32)
    return to_int8_tflite(model, xf, per_tensor=per_tensor), xf


@pytest.fixture(scope="module")
def pruned():
    return {"channel": _model(), "tensor": _model(per_tensor=True)}


def _weighted(plan):
    return [c.format for c in plan.choices if c.format != "none"]


@pytest.mark.convert
def test_kernels_match_tflm_on_the_host(pruned, host_vs_reference):
    for quant, (tflite, x) in pruned.items():
        for defines in ((), ("ES_FORCE_DSP",), ("ES_FORCE_DSP", "ES_ROW_BY_ROW")):
            ours, ref, plan = host_vs_reference(tflite, x, force_format=NAME, defines=defines)
            assert _weighted(plan) == [NAME] * 3
            assert np.count_nonzero(ours != ref) == 0, (quant, defines)


@pytest.mark.convert
def test_init_rejects_damaged_tables(pruned, tmp_path):
    from toolchain.pipeline import plan_model
    from toolchain.targets.host import init_status

    plan = plan_model(pruned["channel"][0], "v", force_format=NAME)
    lib, poke = host_init(plan, tmp_path)
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    h = fmt.HEADER.unpack(blob)
    i = next(i for i, c in enumerate(plan.choices) if c.format == NAME)  # Dense 37 -> 40
    rec = fmt.LAYER.unpack(blob, h["layers_offset"] + i * fmt.LAYER.size)
    assert rec["format"] == int(fmt.WeightFormat.PAIRS)
    t, off = table_fields(plan, i, fmt.SPARSE)
    counts = np.frombuffer(blob, "<u2", t["rows"], t["counts_offset"])
    first = np.frombuffer(blob, "<u2", t["entry_count"], t["index_offset"])
    w = np.frombuffer(blob, "<i2", 2 * t["entry_count"], t["values_offset"])
    assert poke(off["entry_count"], "I", t["entry_count"] - 1) == "ES_ERR_INDEX"
    assert poke(off["values_offset"], "I", len(blob) - 4) == "ES_ERR_TABLE_BOUNDS"
    assert poke(off["values_offset"], "I", t["values_offset"] + 2) == "ES_ERR_TABLE_BOUNDS"
    r = int(np.argmax(counts >= 2))  # a row of two pairs or more
    k = int(counts[:r].sum())
    # overlapping pairs (the row would hold more than cols products), a column past the end
    assert poke(t["index_offset"] + 2 * (k + 1), "H", int(first[k]) + 1) == "ES_ERR_INDEX"
    assert poke(t["index_offset"] + 2 * k, "H", 37) == "ES_ERR_INDEX"
    # weights outside int8, and a second weight at the last column (no input there)
    assert poke(t["values_offset"] + 4 * k, "h", 128) == "ES_ERR_INDEX"
    assert poke(t["values_offset"] + 4 * k + 2, "h", -129) == "ES_ERR_INDEX"
    last = int(np.flatnonzero(first == 36)[0])
    assert w[2 * last + 1] == 0
    assert poke(t["values_offset"] + 4 * last + 2, "h", 1) == "ES_ERR_INDEX"
    # the widened input needs 2 * (cols + 1) bytes of scratch, 4-aligned: 76
    params = fmt.params_struct(rec["op"], rec["variant"])
    p = params.unpack(blob, rec["params_offset"])
    assert p["scratch_bytes"] == 76
    assert poke(rec["params_offset"] + params.offsets()["scratch_bytes"], "I", 72) == "ES_ERR_SHAPE"
    # the rows' counts summing to other than entry_count
    assert poke(t["counts_offset"] + 2 * r, "H", int(counts[r]) + 1) == "ES_ERR_INDEX"


@pytest.mark.slow
@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("board_name", ["mps2-an386", "mps2-an385"])
def test_bit_exact_in_qemu(board_name, pruned, tmp_path):
    from toolchain.pipeline import input_samples, plan_model, reference

    require("arm-none-eabi-gcc", "qemu-system-arm")
    for quant, (tflite, xf) in pruned.items():
        plan = plan_model(tflite, "pairs", force_format=NAME)
        assert _weighted(plan) == [NAME] * 3
        assert qemu_mismatches(plan, tflite, xf, tmp_path / quant, "pairs", board_name) == 0, quant
    if board_name == "mps2-an386":  # the row-by-row path of the DSP kernel
        tflite, xf = pruned["channel"]
        plan = plan_model(tflite, "pairs", force_format=NAME)
        xq = input_samples(plan.graph, xf)
        ours = qemu_outputs(plan, xq, tmp_path / "rows", "pairs", board_name,
                            defines=("ES_ROW_BY_ROW",))
        assert np.count_nonzero(ours != reference(tflite, xq).reshape(len(xq), -1)) == 0
