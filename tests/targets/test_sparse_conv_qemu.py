"""The CSR and block formats' four-pixel CONV_2D kernels (kernels/es_conv4_csr.h) in QEMU on a
DSP core, where their inline assembly runs (the host tests run its C form): 3x3 convs gathered
row by row (in_c 3, not a whole group of four, or 4; then 8; padding rows and columns; a
dilated 3x3; the in_c 8 one with two pruned, all-zero channels), a direct 1x1, and a strided 2x2, on pixel counts that are not multiples of four,
every output byte against TFLM's reference. The whole-layer assembly (every row in
es_requantize_clamp4's whole-range case) runs on these layers; ES_ROW_BY_ROW makes the
same layers take the row-by-row path that other layers take. 2:4 (its pair table) on the
same layers: kernel rows of whole groups of four, and the last layer's rows of 30 columns
(whole columns gathered). A FULLY_CONNECTED layer at the end takes the same format
(es_matvec_layer.h's whole-layer block for CSR16 and block 1x4, or row by row)."""
import numpy as np
import pytest
from one_tap import one_tap_kernel
from qemu_run import qemu_outputs
from requires import require

from toolchain.encode import patterns


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("fmt,code_opt,in_c,defines", [
    ("csr8", "mixed", 3, ()), ("csr16", "mixed", 3, ()), ("csr16", "size", 3, ()),
    ("block1x4", "mixed", 4, ()), ("nm2:4", "mixed", 4, ()),
    # the row-by-row path (layers outside the whole-layer block's case) in the full suite
    *(pytest.param(*case, marks=pytest.mark.slow) for case in (
        ("csr16", "mixed", 4, ("ES_ROW_BY_ROW",)), ("csr8", "size", 3, ("ES_ROW_BY_ROW",)),
        ("block1x4", "mixed", 4, ("ES_ROW_BY_ROW",)), ("nm2:4", "size", 4, ("ES_ROW_BY_ROW",))))])
def test_sparse_conv_four_pixel_kernels_are_bit_exact_in_qemu(fmt, code_opt, in_c, defines, tmp_path, to_int8):
    require("arm-none-eabi-gcc", "qemu-system-arm")
    import tf_keras as keras

    from toolchain.pipeline import input_samples, plan_model, reference

    rng = np.random.default_rng(19)
    inp = keras.Input((9, 7, in_c), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)   # im2col
    x = keras.layers.Conv2D(12, 3, padding="same")(x)                       # in_c 8
    x = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=2)(x)       # dilated
    x = keras.layers.Conv2D(10, 1, activation="relu")(x)                    # direct 1x1
    x = keras.layers.Conv2D(6, (2, 3), strides=2)(x)                        # 4x3 = 12 pixels
    x = keras.layers.Dense(20, activation="relu")(keras.layers.Flatten()(x))  # FC: 72 inputs
    model = keras.Model(inp, x)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            rows = patterns.keras_rows(ws[0] * rng.uniform(0.5, 3.0))
            rows = rows * (patterns.block_mask(rows, 1, 4, 0.8) if fmt == "block1x4"
                           else patterns.nm_mask(rows, 2, 4) if fmt == "nm2:4"
                           else patterns.unstructured_mask(rows, 0.8))
            if isinstance(layer, keras.layers.Conv2D) and layer.filters == 12:
                rows[[2, 7]] = 0  # pruned channels: their scale, so their shift, is extreme
                ws[1][[2, 7]] = [-0.7, 0.9]  # the bias alone makes their outputs
            ws[0] = patterns.keras_from_rows(rows, ws[0].shape).astype(np.float32)
            layer.set_weights(ws)
    xf = rng.uniform(-1.5, 2.0, size=(3, 9, 7, in_c)).astype(np.float32)
    tflite = to_int8(model, xf)
    plan = plan_model(tflite, "sparse_conv", force_format=fmt)
    assert [c.format for l, c in zip(plan.layers, plan.choices) if l.sparse_capable] == [fmt] * 6
    # the empty rows (no activation: the whole-layer block) output their bias requantized
    # (es_conv4_records); the converter gives them extreme shifts
    pruned = [l for l in plan.layers if l.weights is not None and l.weights.shape[0] == 12][0]
    assert min(np.asarray(pruned.shift).ravel()) <= -20
    xq = input_samples(plan.graph, xf)
    ours = qemu_outputs(plan, xq, tmp_path, "sparse_conv", code_opt=code_opt, defines=defines)
    ref = reference(tflite, xq).reshape(len(xq), -1)
    assert np.count_nonzero(ours != ref) == 0


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("board_name", ["mps2-an386", "mps3-an547"])
def test_nm24_fully_connected_whole_layer_is_bit_exact_in_qemu(board_name, tmp_path, to_int8):
    """2:4 FULLY_CONNECTED through es_matvec_layer.h's whole-layer block on the M4 and the M55 (eight groups
    a step by two LDRDs of value words, then four, then one at a time): rows of 13, 7, 3, 2 and
    1 groups, so every path of the row and an odd group's padded value word run, every output
    byte against TFLM."""
    require("arm-none-eabi-gcc", "qemu-system-arm")
    import tf_keras as keras

    from toolchain.pipeline import input_samples, plan_model, reference

    rng = np.random.default_rng(31)
    inp = keras.Input((52,), batch_size=1)
    x = inp
    for units in (28, 12, 8, 4, 6):  # inputs 52, 28, 12, 8, 4: 13, 7, 3, 2, 1 groups of four
        x = keras.layers.Dense(units)(x)
    model = keras.Model(inp, x)
    for layer in model.layers[1:]:
        ws = layer.get_weights()
        rows = patterns.keras_rows(ws[0] * rng.uniform(0.5, 3.0))
        ws[0] = patterns.keras_from_rows(rows * patterns.nm_mask(rows, 2, 4), ws[0].shape)
        layer.set_weights([w.astype(np.float32) for w in ws])
    xf = rng.uniform(-2.0, 2.0, size=(4, 52)).astype(np.float32)
    tflite = to_int8(model, xf)
    plan = plan_model(tflite, "nm24_fc", force_format="nm2:4")
    assert [c.format for l, c in zip(plan.layers, plan.choices) if l.sparse_capable] == ["nm2:4"] * 5
    xq = input_samples(plan.graph, xf)
    ours = qemu_outputs(plan, xq, tmp_path, "nm24_fc", board_name, code_opt="mixed")
    ref = reference(tflite, xq).reshape(len(xq), -1)
    assert np.count_nonzero(ours != ref) == 0


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("board_name,code_opt", [("mps2-an386", "mixed"), ("mps2-an386", "size"),
                                                 ("mps2-an385", "mixed")])
def test_sparse_depthwise_kernel_is_bit_exact_in_qemu(board_name, code_opt, tmp_path, to_int8):
    """DEPTHWISE_CONV_2D in CSR16 (ops/es_depthwise_csr16_s8.h): its inline assembly on the M4,
    its C form on the M3; a tall narrow plane (along y), a stride-2 plane (two phases), a
    multiplier of 2, a channel with no taps left, every output byte against TFLM."""
    require("arm-none-eabi-gcc", "qemu-system-arm")
    import tf_keras as keras

    from toolchain.encode import format as fmt
    from toolchain.pipeline import input_samples, plan_model, reference

    rng = np.random.default_rng(23)
    inp = keras.Input((13, 5, 4), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(inp)         # along y
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)
    x = keras.layers.DepthwiseConv2D((3, 2), padding="valid")(x)
    model = keras.Model(inp, keras.layers.Flatten()(x))
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            k = ws[0] * rng.uniform(0.5, 3.0)
            k = np.where(rng.random(k.shape) < 0.8, 0, k)
            k[..., 0, 0] = 0
            ws[0] = k.astype(np.float32)
            layer.set_weights(ws)
    xf = rng.uniform(-1.5, 2.0, size=(3, 13, 5, 4)).astype(np.float32)
    tflite = to_int8(model, xf)
    plan = plan_model(tflite, "sparse_dw", force_format="csr16")
    assert [c.format for l, c in zip(plan.layers, plan.choices) if l.weights is not None] == ["csr16"] * 3
    h = fmt.HEADER.unpack(plan.blob.data)
    variants = {fmt.LAYER.unpack(plan.blob.data, h["layers_offset"] + i * fmt.LAYER.size)["variant"]
                for i in range(h["layer_count"]) if plan.layers[i].weights is not None}
    assert variants == {fmt.VARIANT_DW_SPARSE}
    xq = input_samples(plan.graph, xf)
    ours = qemu_outputs(plan, xq, tmp_path, "sparse_dw", board=board_name, code_opt=code_opt)
    assert "es_op_depthwise_conv_2d_csr16" in (tmp_path / "src" / "model.c").read_text()
    ref = reference(tflite, xq).reshape(len(xq), -1)
    assert np.count_nonzero(ours != ref) == 0


@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("board_name", ["mps2-an386", "mps2-an385"])
def test_one_tap_depthwise_table_is_bit_exact_in_qemu(board_name, tmp_path, to_int8):
    """Depthwise layers pruned to one tap per channel on planes large enough for the
    per-channel table of outputs (ES_DWS_LUT), stride 1 and 2, every output byte against TFLM."""
    require("arm-none-eabi-gcc", "qemu-system-arm")
    import tf_keras as keras

    from toolchain.pipeline import input_samples, plan_model, reference

    rng = np.random.default_rng(5)
    inp = keras.Input((30, 26, 3), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)
    model = keras.Model(inp, keras.layers.Flatten()(x))
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([one_tap_kernel(ws[0], rng, extra=(2,)), ws[1] + 0.3])
    xf = rng.uniform(-1.5, 2.0, size=(2, 30, 26, 3)).astype(np.float32)
    tflite = to_int8(model, xf)
    plan = plan_model(tflite, "one_tap_dw", force_format="csr16")
    xq = input_samples(plan.graph, xf)
    ours = qemu_outputs(plan, xq, tmp_path, "one_tap_dw", board=board_name)
    ref = reference(tflite, xq).reshape(len(xq), -1)
    assert np.count_nonzero(ours != ref) == 0
