"""The runtime and a generated model build without a single warning under the strictest flags
we hold them to (gcc and arm-none-eabi-gcc), cppcheck finds nothing, and a generated model
built with ASan + UBSan runs the reference's inputs to the reference's outputs."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

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
    """Generated sources of a small model (conv, depthwise, pools, ADD, FC, softmax) in every
    weight format it accepts, with its int8 tflite and test inputs."""
    import tf_keras as keras

    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model
    from toolchain.plan.select import ENCODERS
    from toolchain.quantize.convert import input_quantization, quantize_input, to_int8_tflite

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 2), batch_size=1)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = keras.layers.DepthwiseConv2D(3, padding="same")(a)
    x = keras.layers.Add()([a, b])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    x = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inp, x)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws and layer.__class__.__name__ != "DepthwiseConv2D":
            ws[0][rng.random(ws[0].shape) < 0.7] = 0
            layer.set_weights(ws)
    xf = rng.random((12, 8, 8, 2)).astype(np.float32)
    tflite = to_int8_tflite(model, xf)
    xq = quantize_input(xf, *input_quantization(tflite))
    work = tmp_path_factory.mktemp("strict")
    out = {}
    for name in ENCODERS:
        plan = plan_model(tflite, "strict", force_format=name)
        src = work / name.replace(":", "_") / "src"
        write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, src)
        out[name] = src
    return {"sources": out, "tflite": tflite, "x": xq, "work": work}


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
def test_host_gcc_strict_warnings(models, tmp_path):
    include = [RUNTIME_DIR / "include", RUNTIME_DIR / "src", RUNTIME_DIR / "port"]
    sources = _runtime_sources("host")
    for src in models["sources"].values():
        sources += sorted(src.glob("*.c"))
    errors = _compile_only("gcc", ["-std=c99", "-O2", *STRICT_WARNINGS], sources,
                           include + list(models["sources"].values())[:1], tmp_path)
    assert not errors, "\n".join(errors)


@pytest.mark.slow
@pytest.mark.parametrize("board", list(ARM_BOARDS))
def test_arm_firmware_strict_warnings(models, board, tmp_path):
    """The firmware Makefile (templates/Makefile.j2) compiles the runtime, its Cortex-M port,
    the generated model and the firmware sources with STRICT_WARNINGS; any warning fails it."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
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


def test_runtime_core_calls_no_allocator_or_stdio(tmp_path):
    """runtime_c/src (not the ports) links against nothing but memcpy/memmove/memset."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
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


def test_cppcheck_clean():
    """Every class but information (errors are always on): warning, style, performance,
    portability."""
    if shutil.which("cppcheck") is None:
        pytest.skip("cppcheck not installed (scripts/bootstrap.sh installs it)")
    proc = subprocess.run(
        ["cppcheck", "--error-exitcode=1", "--enable=warning,style,performance,portability",
         "--std=c99", "--inline-suppr", "-q", f"-I{RUNTIME_DIR / 'include'}",
         f"-I{RUNTIME_DIR / 'src'}", f"-I{RUNTIME_DIR / 'port'}", str(RUNTIME_DIR)],
        capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("force_dsp", [False, True])
def test_generated_models_under_sanitizers_match_the_reference(models, tmp_path, force_dsp):
    """Every weight format's build of the model, compiled with ASan + UBSan (any report
    aborts), gives the TFLM reference's outputs byte for byte."""
    from toolchain.pipeline import reference

    ref = reference(models["tflite"], models["x"])
    driver = tmp_path / "driver.c"
    driver.write_text(HOST_DRIVER)
    flags = ["-std=c99", "-O1", *STRICT_WARNINGS, *SANITIZE_FLAGS, "-fno-sanitize-recover=all",
             *(["-DES_FORCE_DSP"] if force_dsp else []), f"-I{RUNTIME_DIR / 'include'}",
             f"-I{RUNTIME_DIR / 'src'}"]
    runtime_objs = []  # the runtime once; each format's model.c and the driver per build
    for i, c in enumerate(sorted((RUNTIME_DIR / "src").rglob("*.c"))):
        runtime_objs.append(tmp_path / f"rt{i}.o")
        build = subprocess.run(["gcc", *flags, "-c", "-o", str(runtime_objs[-1]), str(c)],
                               capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
    for name, src in models["sources"].items():
        exe = tmp_path / f"{name.replace(':', '_')}_san"
        cmd = ["gcc", *flags, f"-I{src}", "-o", str(exe), str(driver),
               *map(str, sorted(src.glob("*.c"))), *map(str, runtime_objs)]
        build = subprocess.run(cmd, capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
        run = subprocess.run([str(exe)], input=models["x"].tobytes(), capture_output=True)
        assert run.returncode == 0 and not run.stderr, (name, run.stderr.decode()[-3000:])
        ours = np.frombuffer(run.stdout, np.int8).reshape(len(models["x"]), -1)
        np.testing.assert_array_equal(ours, ref.reshape(ours.shape), err_msg=name)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
