"""The op and weight-format registry (runtime_c/src/es_registry.h): the Python side's names for
the C entries agree with the entries themselves, the generated model.c registers exactly its
model's kernels, a firmware links nothing else, and a blob whose layers do not match the
registry it was built with is refused."""
import re
import struct
import subprocess
from pathlib import Path

import pytest

from requires import require
from toolchain.encode import format as fmt
from toolchain.targets.build import RUNTIME_DIR

REPO = Path(__file__).resolve().parents[2]
VALID = REPO / "tests" / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite"
SOURCES = sorted((RUNTIME_DIR / "src").rglob("*.c"))
INCLUDES = [f"-I{RUNTIME_DIR / 'include'}", f"-I{RUNTIME_DIR / 'src'}"]


def _run_c(tmp_path: Path, body: str, defines=("ES_REGISTRY_ALL",), extra=()) -> str:
    require("gcc")
    src = tmp_path / "probe.c"
    src.write_text('#include <stdio.h>\n#include "es_registry.h"\n' + body)
    exe = tmp_path / "probe"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", *INCLUDES, *[f"-D{d}" for d in defines],
                    str(src), *map(str, extra), *map(str, SOURCES), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


def _c_name(entry: str, dsp: bool) -> str:
    m = re.fullmatch(r"ES_ISA_ENTRY\((\w+)\)", entry)
    return (m.group(1) + ("_dsp" if dsp else "")) if m else entry


@pytest.mark.parametrize("dsp", [False, True], ids=["c", "dsp"])
def test_python_op_entries_name_the_c_entries(tmp_path, dsp):
    """Every (op, variant) format.OP_ENTRIES knows is a C entry with that op, variant, params
    size and the flags the planner relies on (ES_OPF_IN_PLACE: in_place, ES_OPF_IN_PLACE_BELOW:
    in_place_below or in_place_channels, whose exact-overlap rule the op checks itself,
    ES_OPF_OWN_FORMAT: own_format), and es_registry_all.c registers exactly those (DSP builds: the _dsp entries)."""
    names = {key: _c_name(e.c_entry, dsp) for key, e in fmt.OP_ENTRIES.items()}
    lines = [f'    printf("{n} %u %u %u %u %u %u\\n", {n}.op, {n}.variant, (unsigned){n}.params_bytes, '
             f'({n}.flags & ES_OPF_IN_PLACE) != 0u, ({n}.flags & ES_OPF_OWN_FORMAT) != 0u, '
             f'({n}.flags & ES_OPF_IN_PLACE_BELOW) != 0u);'
             for n in names.values()]
    body = ("".join(f"extern const es_op_entry_t {n};\n" for n in names.values()) +
            "int main(void) {\n" + "\n".join(lines) +
            '\n    printf("all %u %u\\n", es_registry.op_count, es_registry.format_count);\n'
            "    for (unsigned i = 0; i < es_registry.op_count; ++i)\n"
            '        printf("reg %u %u\\n", es_registry.ops[i]->op, es_registry.ops[i]->variant);\n'
            "    return 0;\n}\n")
    out = _run_c(tmp_path, body, ("ES_REGISTRY_ALL", *(["ES_FORCE_DSP"] if dsp else [])))
    rows = {parts[0]: tuple(map(int, parts[1:])) for parts in map(str.split, out.splitlines())
            if parts[0] not in ("all", "reg")}
    for (op, variant), entry in fmt.OP_ENTRIES.items():
        assert rows[names[(op, variant)]] == (int(op), variant, entry.params.size,
                                              int(entry.in_place), int(entry.own_format),
                                              int(entry.in_place_below or entry.in_place_channels)), (op, variant)
    registered = sorted(tuple(map(int, l.split()[1:])) for l in out.splitlines() if l.startswith("reg"))
    assert registered == sorted((int(op), v) for op, v in fmt.OP_ENTRIES)
    counts = [l for l in out.splitlines() if l.startswith("all")][0].split()
    assert int(counts[2]) == len(fmt.FORMAT_ENTRIES)


def test_python_format_entries_name_the_c_entries(tmp_path):
    """Every format's entry, and its conv-less twin where it has one, carries its format value;
    the twins have no multi-pixel conv hook."""
    names = [*fmt.FORMAT_ENTRIES.values(), *fmt.FORMAT_ENTRIES_NO_CONV.values()]
    lines = [f'    printf("{n} %u %d\\n", {n}.format, {n}.conv2 != 0 || {n}.conv4 != 0);' for n in names]
    externs = "".join(f"extern const es_format_entry_t {n};\n" for n in names)
    out = _run_c(tmp_path, externs + "int main(void) {\n" + "\n".join(lines) + "\n    return 0;\n}\n")
    got = {l.split()[0]: tuple(map(int, l.split()[1:])) for l in out.splitlines()}
    assert {f: got[n][0] for f, n in fmt.FORMAT_ENTRIES.items()} == \
        {f: int(f) for f in fmt.FORMAT_ENTRIES}
    assert {f: got[n] for f, n in fmt.FORMAT_ENTRIES_NO_CONV.items()} == \
        {f: (int(f), 0) for f in fmt.FORMAT_ENTRIES_NO_CONV}
    assert all(got[fmt.FORMAT_ENTRIES[f]][1] == 1 for f in fmt.FORMAT_ENTRIES_NO_CONV)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The model sources of a small FC model, as compile writes them."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model

    out = tmp_path_factory.mktemp("registry")
    plan = plan_model(VALID.read_bytes(), "registry", force_format="csr8")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, out / "src")
    return plan, out / "src"


def test_generated_registry_lists_exactly_the_models_kernels(generated):
    plan, src = generated
    text = (src / "model.c").read_text()
    listed = set(re.findall(r"&(es_op_\w+|ES_ISA_ENTRY\(\w+\)|es_format_\w+),", text))
    want = {l.entry.c_entry for l in plan.layers} | {"es_format_csr8_fc"}  # FC only: no conv4
    assert listed == want
    assert "es_format_dense" not in listed and "es_op_softmax" not in {l.entry.c_entry for l in plan.layers}
    # one layer per comment line, 16 bytes per blob line, each region labelled
    assert max(len(line) for line in text.splitlines()) < 200
    assert sum("params and tables" in line for line in text.splitlines()) == len(plan.layers)


def _driver(blob_patch: str) -> str:
    return ('#include <string.h>\n#include "model.h"\n'
            "static uint64_t arena[(ES_MODEL_ARENA_BYTES + 7u) / 8u];\n"
            "static uint64_t copy[(ES_MODEL_BLOB_BYTES + 7u) / 8u];\n"
            "int main(void) {\n    es_model_t m;\n    uint8_t *b = (uint8_t *)copy;\n"
            "    memcpy(b, es_model_blob, ES_MODEL_BLOB_BYTES);\n" + blob_patch +
            '    printf("%s\\n", es_status_name(es_model_init(&m, b, ES_MODEL_BLOB_BYTES, arena, '
            "sizeof arena)));\n    return 0;\n}\n")


def test_a_blob_that_does_not_match_the_generated_registry_is_refused(generated, tmp_path):
    """Built with the model's own registry (no ES_REGISTRY_ALL): its blob initialises; the same
    blob with a layer's op, or its weight format, changed to one the model does not use is
    ES_ERR_OP / ES_ERR_FORMAT (the CRC flag cleared so the change reaches the layer check)."""
    plan, src = generated
    h = fmt.HEADER.unpack(plan.blob.data)
    fc = next(i for i, l in enumerate(plan.layers) if l.opcode == fmt.OpCode.FULLY_CONNECTED)
    at = h["layers_offset"] + fc * fmt.LAYER.size
    flags_at = fmt.HEADER.offsets()["flags"]
    no_crc = f"    b[{flags_at}] = 0;\n"
    cases = {
        "": "ES_OK",
        no_crc + f"    b[{at + fmt.LAYER.offsets()['op']}] = {int(fmt.OpCode.SOFTMAX)};\n": "ES_ERR_OP",
        no_crc + f"    b[{at + fmt.LAYER.offsets()['format']}] = {int(fmt.WeightFormat.DENSE)};\n":
            "ES_ERR_FORMAT",
        no_crc + f"    b[{at + fmt.LAYER.offsets()['variant']}] = 1;\n": "ES_ERR_OP",
    }
    for i, (patch, want) in enumerate(cases.items()):
        work = tmp_path / str(i)
        work.mkdir()
        got = _run_c(work, _driver(patch), defines=(), extra=[f"-I{src}", src / "model.c"]).strip()
        assert got == want, (patch, got)
    assert struct.unpack_from("<I", plan.blob.data, flags_at)[0] & fmt.FLAG_CRC32


@pytest.mark.firmware
def test_firmware_links_only_the_models_kernels(generated, tmp_path):
    """--gc-sections keeps what the generated registry names: the model's kernels and format,
    none of the other ops' or formats' code."""
    require("arm-none-eabi-gcc")
    import numpy as np

    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    from toolchain.targets.stack import elf_functions

    plan, src = generated
    board = load_board("mps2-an386")
    x = np.zeros((1, plan.graph.tensors[plan.graph.inputs[0]].size_bytes), np.int8)
    fw = build_firmware(src, tmp_path / "fw", board, x, "registry")
    funcs = elf_functions(fw.elf)
    assert "es_matvec_csr8_s8" in funcs and "es_fully_connected_s8" in funcs
    unused = {"es_softmax_s8", "es_conv2d_s8", "es_depthwise_conv2d_s8_dsp", "es_mean_s8",
              "es_mul_s8", "es_pad_s8", "es_matvec_dense_s8_dsp", "es_matvec_palette_s8",
              "es_matvec_palette_csr_s8", "es_palette_check", "es_huff_walk", "es_matvec_nm24_s8_dsp",
              "es_conv4_csr8_s8", "es_conv4_csr8_s8_dsp"}
    assert not funcs & unused, funcs & unused


@pytest.mark.firmware
@pytest.mark.qemu
def test_dense_fc_only_firmware_does_not_link_the_conv_kernel(tmp_path):
    """A model whose dense layers are all FULLY_CONNECTED names es_format_dense_fc (no conv2
    hook), so the two-pixel conv kernel is not in its firmware; it still runs."""
    require("arm-none-eabi-gcc")
    import numpy as np

    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import plan_model
    from toolchain.targets.boards import load_board
    from toolchain.targets.build import build_firmware
    from toolchain.targets.stack import elf_functions

    plan = plan_model(VALID.read_bytes(), "registry", force_format="dense")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    text = (tmp_path / "src" / "model.c").read_text()
    assert "&es_format_dense_fc," in text and "&es_format_dense," not in text
    board = load_board("mps2-an386")
    x = np.random.default_rng(0).integers(-128, 128, (3, plan.graph.tensors[plan.graph.inputs[0]].size_bytes),
                                          dtype=np.int64).astype(np.int8)
    fw = build_firmware(tmp_path / "src", tmp_path / "fw", board, x, "registry")
    funcs = elf_functions(fw.elf)
    assert "es_matvec_dense_s8_dsp" in funcs
    assert not {"es_conv2_dense_s8_dsp", "es_conv2_dense_s8"} & funcs
    require("qemu-system-arm")
    from toolchain.targets.qemu import run_qemu
    from toolchain.verify.reference import reference_outputs

    shape = plan.graph.tensors[plan.graph.inputs[0]].shape[1:]
    want = reference_outputs(VALID.read_bytes(), x.reshape(3, *shape)).reshape(3, -1)
    got = run_qemu(fw.elf, board).outputs.reshape(3, -1)
    np.testing.assert_array_equal(got, want)


def test_model_names_cannot_end_the_generated_comments():
    from toolchain.codegen.model import c_comment

    assert c_comment("conv/*x*/y\nz") == "conv/ *x* /y z"
