"""ES_LAYER_RQ_PER_TENSOR: a FULLY_CONNECTED or CONV_2D layer quantized per tensor (the
converter's choice for shared weights, and what most field models' Dense layers hold) stores
one multiplier and one shift instead of one per output. The host build runs the C kernels (row by row and, with
ES_FORCE_DSP, the DSP C paths); the QEMU test runs the whole-layer inline assembly of the
CSR16 and block 1x4 kernels (es_matvec_layer.h), which reads the tables through rq_mask."""
import numpy as np
import pytest
from qemu_run import qemu_outputs
from requires import require

from toolchain.encode import format as fmt
from toolchain.encode import patterns


def _fc_model(per_tensor: bool):
    """Dense 40 -> 24 (ReLU) -> 12 -> 9 -> 6, 60% of each row's blocks of four pruned."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(7)
    keras.utils.set_random_seed(7)
    inp = keras.Input((40,), batch_size=1)
    x = keras.layers.Dense(24, activation="relu")(inp)
    for units in (12, 9, 6):
        x = keras.layers.Dense(units)(x)
    model = keras.Model(inp, x)
    for layer in model.layers[1:]:
        ws = layer.get_weights()
        rows = patterns.keras_rows(ws[0] * rng.uniform(0.5, 3.0, ws[0].shape))
        ws[0] = patterns.keras_from_rows(rows * patterns.block_mask(rows, 1, 4, 0.6), ws[0].shape)
        layer.set_weights([w.astype(np.float32) for w in ws])
    xf = rng.uniform(-2.0, 2.0, size=(6, 40)).astype(np.float32)
    return to_int8_tflite(model, xf, per_tensor=per_tensor), xf


def _records(plan, op, params):
    """(layer record, params) of every `op` layer of the plan's blob."""
    data = plan.blob.data
    h = fmt.HEADER.unpack(data)
    recs = [fmt.LAYER.unpack(data, h["layers_offset"] + i * fmt.LAYER.size) for i in range(h["layer_count"])]
    return [(r, params.unpack(data, r["params_offset"])) for r in recs if r["op"] == op]


def _fc_records(plan):
    return _records(plan, fmt.OpCode.FULLY_CONNECTED, fmt.FC_PARAMS)


@pytest.mark.convert
def test_per_tensor_fc_stores_one_multiplier_and_shift(host_vs_reference, monkeypatch):
    from toolchain.encode import blob
    from toolchain.pipeline import plan_model

    tflite, x = _fc_model(per_tensor=True)
    per_channel, _ = _fc_model(per_tensor=False)
    for name in ("dense", "csr16", "block1x4", "palette-csr"):
        for defines in ((), ("ES_FORCE_DSP",), ("ES_FORCE_DSP", "ES_ROW_BY_ROW")):
            ours, ref, plan = host_vs_reference(tflite, x, force_format=name, defines=defines)
            assert np.count_nonzero(ours != ref) == 0, f"{name} {defines}"
        fcs = _fc_records(plan)
        assert len(fcs) == 4
        for rec, p in fcs:
            assert rec["flags"] & fmt.LAYER_RQ_PER_TENSOR
            assert p["shift_offset"] - p["mult_offset"] == 4  # one entry each
            assert p["weights_offset"] - p["shift_offset"] == 4
        assert all(r["flags"] & fmt.LAYER_RQ_WHOLE for r, _ in fcs)  # ES_ROW_BY_ROW: the other path
        # per channel: the flag is off and the tables are as long as the bias
        other = plan_model(per_channel, "m", force_format=name)
        for rec, p in _fc_records(other):
            assert not rec["flags"] & fmt.LAYER_RQ_PER_TENSOR
            assert p["shift_offset"] - p["mult_offset"] == 4 * p["out_features"]
        # the same layers with one table entry per output: exactly 8 bytes more per further output
        with monkeypatch.context() as m:
            m.setattr(blob, "rq_per_tensor", lambda layer: False)
            per_row = plan_model(tflite, "m", force_format=name)
        saved = sum(8 * (p["out_features"] - 1) for _, p in fcs)
        assert len(per_row.blob.data) - len(plan.blob.data) == saved


def _conv_model(per_tensor: bool):
    """Conv 3x3 (10x10x4 -> 8 channels, ReLU) -> Conv 1x1 (-> 12) -> Conv 3x3 same (-> 8);
    weights of eight values (so the palettes apply), blocks of four along each filter pruned at
    50%, then the two smallest of every group of four (so 2:4 applies)."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)
    inp = keras.Input((10, 10, 4), batch_size=1)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Conv2D(12, 1, activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    model = keras.Model(inp, x)
    for layer in model.layers[1:]:
        k, b = layer.get_weights()
        k = rng.choice([-0.4, -0.3, -0.2, -0.1, 0.1, 0.2, 0.3, 0.4], size=k.shape)
        rows = patterns.keras_rows(k)
        rows = rows * patterns.block_mask(rows, 1, 4, 0.5)
        g = rows.reshape(rows.shape[0], -1, 4)
        np.put_along_axis(g, np.argsort(np.abs(g), axis=2)[:, :, :2], 0.0, axis=2)
        layer.set_weights([patterns.keras_from_rows(g.reshape(rows.shape), k.shape).astype(np.float32),
                           rng.uniform(-0.5, 0.5, b.shape).astype(np.float32)])
    xf = rng.uniform(-2.0, 2.0, size=(4, 10, 10, 4)).astype(np.float32)
    return to_int8_tflite(model, xf, per_tensor=per_tensor), xf


def _conv_records(plan):
    return _records(plan, fmt.OpCode.CONV_2D, fmt.CONV_PARAMS)


CONV_FORMATS = ("dense", "csr8", "csr16", "block1x4", "nm2:4", "palette", "palette-csr")


@pytest.mark.convert
def test_per_tensor_conv_stores_one_multiplier_and_shift(host_vs_reference, monkeypatch):
    """Every CONV_2D kernel path (two-pixel dense, four-pixel sparse, per-pixel palette; C and
    DSP C) reads the per-channel tables es_conv2d_s8 writes into its scratch."""
    from toolchain.encode import blob
    from toolchain.pipeline import plan_model

    tflite, x = _conv_model(per_tensor=True)
    for name in CONV_FORMATS:
        for defines in ((), ("ES_FORCE_DSP",)):
            ours, ref, plan = host_vs_reference(tflite, x, force_format=name, defines=defines)
            assert np.count_nonzero(ours != ref) == 0, f"{name} {defines}"
        convs = _conv_records(plan)
        assert len(convs) == 3 and {r["format"] for r, _ in convs} == {int(wf_id(name))}, name
        for rec, p in convs:
            assert rec["flags"] == fmt.LAYER_RQ_PER_TENSOR
            assert p["shift_offset"] - p["mult_offset"] == 4  # one entry each
        with monkeypatch.context() as m:
            m.setattr(blob, "rq_per_tensor", lambda layer: False)
            per_row = plan_model(tflite, "m", force_format=name)
        assert len(per_row.blob.data) - len(plan.blob.data) == sum(8 * (p["out_c"] - 1) for _, p in convs)


def wf_id(name):
    from toolchain.encode import weight_formats as wf

    return wf.parse(name)[0].id


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("op,board_name,name", [
    ("fc", "mps2-an386", "csr16"), ("fc", "mps2-an386", "block1x4"), ("fc", "mps2-an385", "csr16"),
    ("conv", "mps2-an386", "csr16"), ("conv", "mps2-an386", "dense"), ("conv", "mps2-an385", "csr8"),
    ("conv", "mps2-an386", "palette-csr+huffman"), ("conv", "mps2-an385", "palette+huffman")])
def test_per_tensor_tables_are_bit_exact_in_qemu(op, board_name, name, tmp_path):
    """FULLY_CONNECTED: the whole-layer assembly (M4) reads mult[r & rq_mask], the M3 build the
    C form. CONV_2D: the four-pixel assembly (M4) and the two-pixel dense kernel read the
    per-channel tables es_conv2d_s8 writes into the scratch. A palette decoded at init also
    folds its int16 bias into the arena (ES_LAYER_BIAS_FOLD)."""
    from toolchain.pipeline import input_samples, plan_model, reference

    require("arm-none-eabi-gcc", "qemu-system-arm")
    tflite, xf = (_fc_model if op == "fc" else _conv_model)(per_tensor=True)
    plan = plan_model(tflite, "rq_" + op, force_format=name)
    records = _fc_records(plan) if op == "fc" else _conv_records(plan)
    assert records and all(r["flags"] & fmt.LAYER_RQ_PER_TENSOR for r, _ in records)
    assert all(bool(r["flags"] & fmt.LAYER_BIAS_FOLD) == name.endswith("+huffman") for r, _ in records)
    xq = input_samples(plan.graph, xf)
    ours = qemu_outputs(plan, xq, tmp_path, "rq_" + op, board_name, code_opt="mixed")
    ref = reference(tflite, xq).reshape(len(xq), -1)
    assert np.count_nonzero(ours != ref) == 0
