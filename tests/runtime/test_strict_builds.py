"""The runtime and a generated model build without a single warning under the strictest flags
we hold them to (gcc and arm-none-eabi-gcc), cppcheck finds nothing, and a generated model
built with ASan + UBSan runs the reference's inputs to the reference's outputs."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from requires import require  # noqa: E402

from toolchain.targets.build import RUNTIME_DIR, SANITIZE_FLAGS, STRICT_WARNINGS

# Boards whose cores span the kernels' variants: DSP + FPU, no DSP, baseline Armv6-M.
ARM_BOARDS = {"mps2-an386": "cortex-m4", "mps2-an385": "cortex-m3", "rpi-pico": "cortex-m0plus"}
ARM_CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]

HOST_DRIVER = r"""
/* Reads N samples of ES_MODEL_INPUT_BYTES from stdin, writes N outputs to stdout. */
#include <stdio.h>
#include <string.h>
#include "model.h"

static unsigned long long arena_words[(ES_MODEL_ARENA_BYTES + 7u) / 8u + 1u];

int main(void)
{
    es_model_t m;
    int8_t x[ES_MODEL_INPUT_BYTES];
    uint32_t n = 0;
    es_status_t st = es_model_init(&m, es_model_blob, es_model_blob_bytes, arena_words,
                                   ES_MODEL_ARENA_BYTES);
    if (st != ES_OK) {
        fprintf(stderr, "init: %s\n", es_status_name(st));
        return 3;
    }
    while (fread(x, 1, sizeof(x), stdin) == sizeof(x)) {
        const int8_t *y;
        memcpy(es_model_input(&m, 0, &n), x, sizeof(x));
        st = es_model_invoke(&m);
        if (st != ES_OK) {
            fprintf(stderr, "invoke: %s\n", es_status_name(st));
            return 4;
        }
        y = es_model_output(&m, 0, &n);
        fwrite(y, 1, n, stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One small model (conv with im2col, depthwise, ADD, direct 1x1 conv, pools, FC with a
    320-long reduction, FC, softmax) whose FC / conv weights suit every weight format at once
    (format_weights.suit_every_format: 1x4 zero blocks, 2:4 groups, a dead row, a gap over
    255 columns, 1..5-bit shared values, one weight scale per tensor), planned with each
    format forced strictly (a layer the format does not take is an error, not dense; a
    FULLY_CONNECTED-only format, pairs, is forced on the FC layers, the convs left dense); the
    generated sources of each, the int8 tflite and the test inputs."""
    import tf_keras as keras

    from format_weights import suit_every_format
    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model
    from toolchain.plan.select import ENCODERS
    from toolchain.quantize.convert import input_quantization, quantize_input, to_int8_tflite

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((8, 8, 4), batch_size=1)
    a = L.Conv2D(20, 3, padding="same", activation="relu")(inp)    # K = 36, im2col
    b = L.DepthwiseConv2D(3, padding="same")(a)                    # dense only
    x = L.Conv2D(20, 1, activation="relu")(L.Add()([a, b]))        # K = 20, direct 1x1
    x = L.MaxPooling2D(2)(x)                                       # 4x4x20
    x = L.AveragePooling2D(2, strides=1, padding="same")(x)
    x = L.Dense(16, activation="relu")(L.Flatten()(x))             # K = 320
    model = keras.Model(inp, L.Dense(5, activation="softmax")(x))  # K = 16
    bits = suit_every_format(model, rng)
    ws = model.layers[-1].get_weights()  # sharper logits: the softmax's bytes vary more
    model.layers[-1].set_weights([ws[0] * 10.0, ws[1]])
    xf = rng.uniform(-1.0, 2.0, (12, 8, 8, 4)).astype(np.float32)
    tflite = to_int8_tflite(model, xf, per_tensor=True)
    xq = quantize_input(xf, *input_quantization(tflite))
    work = tmp_path_factory.mktemp("strict")
    sources, plans = {}, {}
    for name in ENCODERS:
        plan = plan_model(tflite, "strict", force_format=name, force_strict=_holds_conv(name))
        src = work / name.replace(":", "_").replace("+", "_") / "src"
        write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, src)
        sources[name], plans[name] = src, plan
    return {"sources": sources, "plans": plans, "tflite": tflite, "x": xq, "work": work,
            "bits": bits}


def _holds_conv(name: str) -> bool:
    from toolchain.encode import weight_formats as wf
    from toolchain.encode.format import OpCode

    return wf.parse(name)[0].holds_op(OpCode.CONV_2D)


def _blob_weight_formats(plan) -> list[tuple[int, int | None]]:
    """Per layer record of the built blob: (weight format, palette coding or None)."""
    from toolchain.encode import format as fmt

    data = plan.blob.data
    h = fmt.HEADER.unpack(data)
    out = []
    for i in range(h["layer_count"]):
        rec = fmt.LAYER.unpack(data, h["layers_offset"] + i * fmt.LAYER.size)
        coding = None
        if rec["format"] in (fmt.WeightFormat.PALETTE, fmt.WeightFormat.PALETTE_CSR):
            params = fmt.params_struct(rec["op"], rec["variant"]).unpack(data, rec["params_offset"])
            coding = fmt.PALETTE.unpack(data, params["weights_offset"])["coding"]
        out.append((rec["format"], coding))
    return out


@pytest.mark.convert
def test_every_format_is_built_in_every_layer_it_is_forced_on(models):
    """Each forced format really is what the blob holds for every FC / conv layer (4 here),
    down to the palette coding (a Huffman format that fell back to raw codes would show);
    depthwise is built in CSR16 when that is forced (the sparse depthwise kernel) and dense
    otherwise; the palettes use every code width."""
    from toolchain.encode import palette
    from toolchain.encode.format import OpCode, WeightFormat
    from toolchain.plan.select import ENCODERS

    assert list(models["bits"].values()) == [3, 1, 5, 2]
    for name, plan in models["plans"].items():
        enc = ENCODERS[name]
        built = _blob_weight_formats(plan)
        sparse = [i for i, layer in enumerate(plan.layers) if layer.sparse_capable]
        assert len(sparse) == 4
        for i, (layer, choice) in enumerate(zip(plan.layers, plan.choices)):
            if i in sparse and not _holds_conv(name) and layer.opcode == OpCode.CONV_2D:
                assert (choice.format, built[i][0]) == ("dense", WeightFormat.DENSE), (name, layer.name)
            elif i in sparse:
                assert choice.format == name, (name, layer.name, choice.format)
                assert built[i][0] == enc.FORMAT, (name, layer.name, built[i])
                if name.startswith("palette"):
                    assert built[i][1] == enc.coding, (name, layer.name, built[i])
            elif layer.weights is not None:  # DEPTHWISE_CONV_2D
                want = ("csr16", WeightFormat.CSR16) if name == "csr16" else ("dense", WeightFormat.DENSE)
                assert (choice.format, built[i][0]) == want, (name, layer.name)
        if name.startswith("palette"):  # codes of 1, 2, 3 and 5 bits (containers 1, 2, 4, 8)
            assert {palette.code_bits(len(palette.codebook(plan.layers[i].weights, "-csr" in name)))
                    for i in sparse} == {1, 2, 3, 5}, name


def test_a_forced_format_that_does_not_apply_is_refused_when_strict():
    """force_strict names the layer and why; without it the layer is built dense."""
    from toolchain.encode.format import OpCode
    from toolchain.errors import ToolchainError
    from toolchain.plan.lower import Layer
    from toolchain.plan.select import choose_formats

    w = np.random.default_rng(0).integers(-127, 128, size=(8, 30)).astype(np.int8)
    layer = Layer(0, "fc0", OpCode.FULLY_CONNECTED, [0], 1,
                  dict(in_features=30, out_features=8, batches=1, output_zero_point=0,
                       act_min=-128, act_max=127),
                  weights=w, bias=np.zeros(8, np.int32), mult=np.full(8, 1 << 30, np.int32),
                  shift=np.zeros(8, np.int32))
    assert choose_formats([layer], force="nm2:4")[0].format == "dense"
    for name, why in (("nm2:4", "30 columns"), ("block1x4", "not a multiple of 4"),
                      ("palette", "distinct values"), ("palette-csr+huffman-stream",
                                                       "distinct values")):
        with pytest.raises(ToolchainError, match=f"layer fc0: weight format .* does not apply: "
                                                 f".*{why}"):
            choose_formats([layer], force=name, force_strict=True)
    w[:, 28:] = 0
    w[:, :28] = (w[:, :28].reshape(8, 7, 4) * [1, 1, 0, 0]).reshape(8, 28)  # 2:4, 30 columns
    with pytest.raises(ToolchainError, match="30 columns"):
        choose_formats([layer], force="nm2:4", force_strict=True)
    assert choose_formats([layer], force="csr16", force_strict=True)[0].format == "csr16"


def _runtime_sources(port: str):
    return sorted((RUNTIME_DIR / "src").rglob("*.c")) + \
        sorted((RUNTIME_DIR / "port" / "common").glob("*.c")) + \
        sorted((RUNTIME_DIR / "port" / port).glob("*.c"))


def _compile_only(cc, flags, sources, include, tmp_path):
    """-c every source with flags; returns the compiler diagnostics (empty when clean)."""
    errors = []
    for i, src in enumerate(sources):
        proc = subprocess.run([cc, *flags, "-c", "-o", str(tmp_path / f"{i}.o"),
                               *[f"-I{d}" for d in include], str(src)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            errors.append(f"{src}:\n{proc.stderr}")
    return errors


def test_strict_warnings_include_conversion():
    assert {"-Wall", "-Wextra", "-Wconversion", "-Wsign-conversion", "-Werror"} <= set(STRICT_WARNINGS)


@pytest.mark.slow
@pytest.mark.convert
def test_host_gcc_strict_warnings(models, tmp_path):
    include = [RUNTIME_DIR / "include", RUNTIME_DIR / "src", RUNTIME_DIR / "port"]
    sources = _runtime_sources("host")
    for src in models["sources"].values():
        sources += sorted(src.glob("*.c"))
    errors = _compile_only("gcc", ["-std=c99", "-O2", *STRICT_WARNINGS], sources,
                           include + list(models["sources"].values())[:1], tmp_path)
    assert not errors, "\n".join(errors)


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.parametrize("board", list(ARM_BOARDS))
def test_arm_firmware_strict_warnings(models, board, tmp_path):
    """The firmware Makefile (templates/Makefile.j2) compiles the runtime, its Cortex-M port,
    the generated model and the firmware sources with STRICT_WARNINGS; any warning fails it."""
    require("arm-none-eabi-gcc")
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware

    b = load_board(board)
    assert b.core == ARM_BOARDS[board]
    fw = build_firmware(models["sources"]["csr8"], tmp_path / "fw", b, models["x"][:1], "strict")
    makefile = (tmp_path / "fw" / "Makefile").read_text()
    assert all(flag in makefile for flag in STRICT_WARNINGS)
    assert fw.sizes["text"] > 0


FORBIDDEN_SYMBOLS = {"malloc", "calloc", "realloc", "free", "printf", "fprintf", "puts", "abort",
                     "exit"}


def _undefined_symbols(objects) -> set[str]:
    proc = subprocess.run(["arm-none-eabi-nm", "-u", *map(str, objects)], capture_output=True,
                          text=True, check=True)
    return {line.split()[-1] for line in proc.stdout.splitlines() if line.strip().startswith("U ")}


@pytest.mark.firmware
def test_runtime_core_calls_no_allocator_or_stdio(tmp_path):
    """runtime_c/src (not the ports) links against nothing but memcpy/memmove/memset."""
    require("arm-none-eabi-gcc")
    objects = []
    for i, src in enumerate(sorted((RUNTIME_DIR / "src").rglob("*.c"))):
        obj = tmp_path / f"{i}.o"
        subprocess.run(["arm-none-eabi-gcc", *ARM_CFLAGS, "-std=c99", "-O2", "-c", "-o", str(obj),
                        f"-I{RUNTIME_DIR / 'include'}", f"-I{RUNTIME_DIR / 'src'}", str(src)],
                       check=True)
        objects.append(obj)
    undefined = _undefined_symbols(objects)
    assert undefined and not undefined & FORBIDDEN_SYMBOLS, undefined & FORBIDDEN_SYMBOLS
    assert {u for u in undefined if not u.startswith("es_")} <= {"memcpy", "memmove", "memset"}, \
        undefined
    # the check can fail: an object that calls malloc shows it
    bad = tmp_path / "bad.c"
    bad.write_text("#include <stdlib.h>\nvoid *f(void) { return malloc(4); }\n")
    subprocess.run(["arm-none-eabi-gcc", *ARM_CFLAGS, "-c", "-o", str(tmp_path / "bad.o"), str(bad)],
                   check=True)
    assert "malloc" in _undefined_symbols([tmp_path / "bad.o"])


def test_strict_flags_catch_a_sign_conversion(tmp_path):
    """The check above can fail: the warning the runtime once had (es_nm24_pairs)."""
    bad = tmp_path / "bad.c"
    bad.write_text("#include <stdint.h>\nuint32_t f(const int8_t *x) { const uint32_t a = "
                   "(uint16_t)x[0]; return a; }\n")
    assert _compile_only("gcc", ["-std=c99", *STRICT_WARNINGS], [bad], [], tmp_path)


@pytest.mark.slow
def test_cppcheck_clean():
    """Every class but information (errors are always on): warning, style, performance,
    portability. Slow tier: about two minutes, 78 s of it on the depthwise kernel's value flow."""
    require("cppcheck")
    proc = subprocess.run(
        ["cppcheck", "--error-exitcode=1", "--enable=warning,style,performance,portability",
         "--std=c99", "--inline-suppr", "-q", f"-I{RUNTIME_DIR / 'include'}",
         f"-I{RUNTIME_DIR / 'src'}", f"-I{RUNTIME_DIR / 'port'}", str(RUNTIME_DIR)],
        capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def _sanitize_flags(force_dsp: bool) -> list[str]:
    return ["-std=c99", "-O1", *STRICT_WARNINGS, *SANITIZE_FLAGS, "-fno-sanitize-recover=all",
            *(["-DES_FORCE_DSP"] if force_dsp else []), f"-I{RUNTIME_DIR / 'include'}",
            f"-I{RUNTIME_DIR / 'src'}"]


@pytest.fixture(scope="module")
def sanitized_runtime(tmp_path_factory):
    """force_dsp -> the runtime's objects built with ASan + UBSan (once per variant)."""
    built = {}

    def get(force_dsp: bool):
        if force_dsp not in built:
            work = tmp_path_factory.mktemp("san_dsp" if force_dsp else "san_c")
            sources = sorted((RUNTIME_DIR / "src").rglob("*.c"))
            objs = [work / f"rt{i}.o" for i in range(len(sources))]

            def compile_one(pair):
                return subprocess.run(["gcc", *_sanitize_flags(force_dsp), "-c", "-o",
                                       str(pair[0]), str(pair[1])], capture_output=True, text=True)

            with ThreadPoolExecutor(max_workers=2) as pool:
                for build in pool.map(compile_one, zip(objs, sources)):
                    assert build.returncode == 0, build.stderr
            built[force_dsp] = objs
        return built[force_dsp]

    return get


def _format_cases():
    """Every weight format in the plain C and DSP builds, all in the fast tier: with the
    runtime's objects built once per variant, a case is a link and a run (under a second)."""
    from toolchain.plan.select import ENCODERS

    for name in ENCODERS:
        for dsp in (False, True):
            yield pytest.param(name, dsp, id=f"{name}-{'dsp' if dsp else 'c'}")


@pytest.mark.convert
@pytest.mark.parametrize("name,force_dsp", list(_format_cases()))
def test_generated_models_under_sanitizers_match_the_reference(models, sanitized_runtime, name,
                                                               force_dsp, tmp_path):
    """Each weight format's build of the model (every FC / conv layer in that format: the test
    above), compiled with ASan + UBSan (any report aborts), gives the TFLM reference's
    outputs byte for byte."""
    from toolchain.pipeline import reference

    ref = reference(models["tflite"], models["x"])
    driver = tmp_path / "driver.c"
    driver.write_text(HOST_DRIVER)
    src = models["sources"][name]
    exe = tmp_path / "model_san"
    build = subprocess.run(["gcc", *_sanitize_flags(force_dsp), f"-I{src}", "-o", str(exe),
                            str(driver), *map(str, sorted(src.glob("*.c"))),
                            *map(str, sanitized_runtime(force_dsp))], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], input=models["x"].tobytes(), capture_output=True)
    assert run.returncode == 0 and not run.stderr, (name, run.stderr.decode()[-3000:])
    ours = np.frombuffer(run.stdout, np.int8).reshape(len(models["x"]), -1)
    np.testing.assert_array_equal(ours, ref.reshape(ours.shape), err_msg=name)
    assert len(np.unique(ref)) > 20  # the outputs vary: a constant model would hide a wrong kernel


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
