"""Every --code-opt level builds and runs bit-exact in QEMU: the kernels' inline assembly has
register budgets that differ between -O3 and -Os (and falls back to C without optimization),
so each level is built for a model with conv, depthwise and FC layers on a DSP core and every
output byte compared with TFLM's reference."""
import numpy as np
import pytest
from requires import require


@pytest.mark.slow
@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.convert
@pytest.mark.parametrize("code_opt", ["size", "speed", "mixed"])
def test_every_code_opt_level_is_bit_exact_in_qemu(code_opt, tmp_path, to_int8):
    require("arm-none-eabi-gcc", "qemu-system-arm")
    import tf_keras as keras

    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import input_samples, plan_model, reference
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    from toolchain.targets.qemu import run_qemu

    rng = np.random.default_rng(7)
    inp = keras.Input((9, 6, 8), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)       # two-pixel conv
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)   # 3-wide rows
    x = keras.layers.Conv2D(12, 1)(x)                                            # pointwise
    x = keras.layers.Add()([x, keras.layers.Conv2D(12, 1)(inp)])
    x = keras.layers.AveragePooling2D(3)(x)
    out = keras.layers.Dense(7)(keras.layers.Flatten()(x))                      # FC, 3 rows
    xf = rng.uniform(-1.5, 2.0, size=(4, 9, 6, 8)).astype(np.float32)
    tflite = to_int8(keras.Model(inp, out), xf)
    plan = plan_model(tflite, "code_opt", force_format="dense")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    xq = input_samples(plan.graph, xf)
    board = load_board("mps2-an386")
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", board, xq, "code_opt", code_opt=code_opt)
    run = run_qemu(fw.elf, board)
    ours = run.outputs.reshape(len(xq), -1)
    ref = reference(tflite, xq).reshape(len(xq), -1)
    assert np.count_nonzero(ours != ref) == 0
