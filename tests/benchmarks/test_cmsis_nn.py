"""The benchmark-only CMSIS-NN backend (benchmarks/cmsis_nn.py): a model built with CMSIS-NN's
kernels for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, AVERAGE_POOL_2D, MAX_POOL_2D and
SOFTMAX runs under QEMU with every output byte equal to TFLM's reference, on a core with the DSP
extension (mps2-an386) and one without (mps2-an385), and CMSIS-NN's functions are what the ELF
links.

CMSIS-NN lives outside the repository (CMSIS_NN_DIR, else ../shared/third_party/cmsis-nn): absent,
these tests skip, except under CI=true, where it must be there. The fast tier builds for
mps2-an386 only."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from requires import needs

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks import cmsis_nn  # noqa: E402

needs_arm = needs("arm-none-eabi-gcc", "qemu-system-arm")

# per op: a CMSIS-NN function the wrapper reaches (the ELF must keep it)
EXPECTED = {"CONV_2D": "arm_convolve_wrapper_s8",
            "DEPTHWISE_CONV_2D": "arm_depthwise_conv_wrapper_s8",
            "FULLY_CONNECTED": "arm_fully_connected_wrapper_s8", "ADD": "arm_elementwise_add_s8",
            "AVERAGE_POOL_2D": "arm_avgpool_s8", "MAX_POOL_2D": "arm_max_pool_s8",
            "SOFTMAX": "arm_softmax_s8"}


def _cmsis():
    found, why = cmsis_nn.locate()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {why}")
        pytest.skip(why)
    return found


def test_locate_says_why_when_absent(tmp_path, monkeypatch):
    monkeypatch.setenv(cmsis_nn.NN_ENV, str(tmp_path / "nowhere"))
    found, why = cmsis_nn.locate()
    assert found is None and cmsis_nn.NN_ENV in why
    (tmp_path / "nn" / "Include").mkdir(parents=True)
    (tmp_path / "nn" / "Include" / "arm_nnfunctions.h").write_text("")
    (tmp_path / "nn" / "Source").mkdir()
    monkeypatch.setenv(cmsis_nn.NN_ENV, str(tmp_path / "nn"))
    found, why = cmsis_nn.locate()
    assert found is None and cmsis_nn.CORE_ENV in why  # no cmsis-core beside it
    core = tmp_path / "cmsis-core" / "CMSIS" / "Core" / "Include"
    core.mkdir(parents=True)
    (core / "cmsis_compiler.h").write_text("")
    found, why = cmsis_nn.locate()
    assert found == cmsis_nn.CmsisNN(tmp_path / "nn", core) and why == ""


def test_sources_are_the_int8_ones():
    names = {p.name for p in _cmsis().sources()}
    assert {"arm_convolve_wrapper_s8.c", "arm_depthwise_conv_3x3_s8.c", "arm_softmax_s8.c",
            "arm_nn_mat_mult_kernel_s8_s16.c", "arm_nntables.c"} <= names
    assert not [n for n in names if "f32" in n or "f16" in n or "s4" in n]


@pytest.fixture(scope="module")
def mixed_model():
    """An untrained int8 model with every op the backend swaps: conv 3x3 (same) and 1x1,
    depthwise 3x3, ADD, max and average pooling, FC, softmax; its plan and 2 inputs."""
    import tf_keras as keras

    from toolchain.ir.tflite_import import load_tflite
    from toolchain.pipeline import input_samples, plan_graph, reference
    from toolchain.quantize.convert import to_int8_tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = keras.layers.DepthwiseConv2D(3, padding="same")(a)
    b = keras.layers.Conv2D(8, 1)(b)
    x = keras.layers.Add()([a, b])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10)(x)
    out = keras.layers.Softmax()(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    xf = rng.normal(0, 1, (34, 12, 12, 3)).astype(np.float32)
    tflite = to_int8_tflite(model, xf[:32])
    graph = load_tflite(tflite, "cmsis")
    plan = plan_graph(graph, in_place=False)  # CMSIS-NN's kernels do not run over their input
    x_int8 = input_samples(graph, xf[32:])
    return plan, x_int8, reference(tflite, x_int8)


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
# about 12 s a board on an idle machine, mostly compiling CMSIS-NN: the DSP core in the fast tier
@pytest.mark.parametrize("board_name",
                         ["mps2-an386", pytest.param("mps2-an385", marks=pytest.mark.slow)])
def test_cmsis_nn_build_is_bit_exact_and_links_cmsis_nn(board_name, mixed_model, tmp_path):
    from toolchain.pipeline import generate
    from toolchain.targets.boards import load_board
    from toolchain.targets.qemu import run_qemu

    cmsis = _cmsis()
    plan, x_int8, ref = mixed_model
    ops = {layer.opcode.name for layer in plan.layers}
    assert set(EXPECTED) <= ops
    assert all(on for layer, on in zip(plan.layers, cmsis_nn.cmsis_layers(plan))
               if layer.opcode.name in EXPECTED)
    board = load_board(board_name)
    generate(plan, tmp_path)
    fw = cmsis_nn.build_firmware_cmsis(plan, tmp_path / "src", tmp_path / "build", board,
                                       x_int8.reshape(len(x_int8), -1), "cmsis", cmsis=cmsis)
    run = run_qemu(fw.elf, board)
    assert np.array_equal(run.outputs.reshape(len(x_int8), -1), ref.reshape(len(x_int8), -1))
    linked = cmsis_nn.linked_functions(fw.elf)
    assert [f for f in EXPECTED.values() if f not in linked] == []
    assert len(run.layer_instructions) == len(plan.layers) and min(run.layer_instructions) > 0


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_bench_job_with_the_cmsis_nn_backend(tmp_path):
    """benchmarks.measure.run_job measures a Job(backend="cmsis-nn") like one of ours: the
    layer's instructions, bit-exact, CMSIS-NN's functions as its kernel symbols, its own cache
    key and build directory."""
    from benchmarks import config
    from benchmarks.measure import CMSIS_NN, Job, job_key, run_job
    from benchmarks.models import load_case

    _cmsis()
    shape, pattern = config.parse_shape("784x300"), config.Pattern("unstructured", 0.0)
    case = load_case(shape, pattern, tmp_path / "cases")
    ours = Job(shape, pattern, "mps2-an386", "dense", "dense_dsp")
    job = Job(shape, pattern, "mps2-an386", "dense", cmsis_nn.LABEL, backend=CMSIS_NN)
    assert job.variant != ours.variant and job_key(job, case, "f") != job_key(ours, case, "f")
    row = run_job(job, case, tmp_path / job.variant)
    assert row["mismatches"] == 0 and row["backend"] == CMSIS_NN and row["format"] == "cmsis-nn"
    assert "arm_fully_connected_s8" in row["kernel_symbols"]
    assert row["instructions"] > 0


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_layers_cmsis_nn_cannot_run_keep_our_kernels(mixed_model, tmp_path):
    """CONV_2D and FULLY_CONNECTED layers stored sparse (csr8) run on our kernels inside the
    CMSIS-NN build, the other layers on CMSIS-NN's, bit-exact."""
    from toolchain.pipeline import generate, plan_graph
    from toolchain.targets.boards import load_board
    from toolchain.targets.qemu import run_qemu

    cmsis = _cmsis()
    dense, x_int8, ref = mixed_model
    plan = plan_graph(dense.graph, force_format="csr8", in_place=False)
    on = dict(zip((layer.opcode.name for layer in plan.layers), cmsis_nn.cmsis_layers(plan)))
    assert on["CONV_2D"] is False and on["FULLY_CONNECTED"] is False
    assert on["DEPTHWISE_CONV_2D"] and on["ADD"] and on["SOFTMAX"]
    board = load_board("mps2-an386")
    generate(plan, tmp_path)
    fw = cmsis_nn.build_firmware_cmsis(plan, tmp_path / "src", tmp_path / "build", board,
                                       x_int8.reshape(len(x_int8), -1), "cmsis", cmsis=cmsis)
    run = run_qemu(fw.elf, board)
    assert np.array_equal(run.outputs.reshape(len(x_int8), -1), ref.reshape(len(x_int8), -1))
    linked = cmsis_nn.linked_functions(fw.elf)
    assert "arm_depthwise_conv_wrapper_s8" in linked and "arm_softmax_s8" in linked


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@needs_arm
def test_cmsis_nn_build_reads_one_multiplier_of_a_per_tensor_fc(tmp_path):
    """A per-tensor FULLY_CONNECTED (ES_LAYER_RQ_PER_TENSOR: one multiplier and shift stored,
    as in most field models) runs on arm_fully_connected_s8 without reading past its tables,
    and a per-tensor CONV_2D on arm_convolve_wrapper_s8 with the per-channel tables written
    into its scratch, bit-exact."""
    import tf_keras as keras

    from toolchain.encode import format as fmt
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.pipeline import generate, input_samples, plan_graph, reference
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.targets.boards import load_board
    from toolchain.targets.qemu import run_qemu

    cmsis = _cmsis()
    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Dense(24, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(inp, keras.layers.Dense(12)(x))
    xf = np.random.default_rng(1).normal(0, 1, (34, 6, 6, 3)).astype(np.float32)
    tflite = to_int8_tflite(model, xf[:32], per_tensor=True)
    plan = plan_graph(load_tflite(tflite, "fc"), in_place=False)
    assert all(cmsis_nn.cmsis_layers(plan)[i] for i, layer in enumerate(plan.layers)
               if layer.opcode in (fmt.OpCode.FULLY_CONNECTED, fmt.OpCode.CONV_2D))
    x_int8 = input_samples(plan.graph, xf[32:])
    board = load_board("mps2-an386")
    generate(plan, tmp_path)
    data = plan.blob.data
    h = fmt.HEADER.unpack(data)
    flags = [fmt.LAYER.unpack(data, h["layers_offset"] + i * fmt.LAYER.size)["flags"]
             for i in range(h["layer_count"])]
    assert sum(1 for f in flags if f & fmt.LAYER_RQ_PER_TENSOR) == 3
    fw = cmsis_nn.build_firmware_cmsis(plan, tmp_path / "src", tmp_path / "build", board,
                                       x_int8.reshape(len(x_int8), -1), "cmsis", cmsis=cmsis)
    run = run_qemu(fw.elf, board)
    ref = reference(tflite, x_int8)
    assert np.array_equal(run.outputs.reshape(len(x_int8), -1), ref.reshape(len(x_int8), -1))
