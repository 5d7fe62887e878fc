"""The weight format registry (toolchain/encode/weight_formats.py) is the one place that knows
a format by its name: names round-trip, enum values and scratch sizes agree with the C
runtime, the planner reads the specs, and no other toolchain module parses a format name."""
import ast
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolchain.encode import weight_formats as wf
from toolchain.encode.format import OpCode
from toolchain.isa import FALLBACK, Isa, board_isa, isa_of
from toolchain.plan import select
from toolchain.plan.lower import SPARSE_CAPABLE_OPS, Layer
from toolchain.targets.build import RUNTIME_DIR

REPO = Path(__file__).resolve().parents[2]
# user-visible names are a contract (CLI --format, report.json "format", benchmark rows), and
# their order breaks ties between equally good formats
NAMES = ("dense", "csr8", "csr16", "block1x4", "nm2:4", "palette", "palette-csr", "pairs",
         "csr8+huffman", "palette+huffman", "palette-csr+huffman", "palette+huffman-stream",
         "palette-csr+huffman-stream")


def test_every_name_round_trips_through_the_registry():
    assert wf.NAMES == NAMES
    assert tuple(select.ENCODERS) == NAMES
    for name in NAMES:
        spec, coding = wf.parse(name)
        assert spec.variant(coding) == name
        assert wf.by_name(name) is spec and wf.by_id(int(spec.id)) is spec
        enc = spec.encoder(coding)
        assert enc is wf.ENCODERS[name] and enc.NAME == name and enc.FORMAT == spec.format_id(coding)
        assert wf.by_id(int(enc.FORMAT)) is spec
        # a coding has a table (es_format_t) of its own only for csr8+huffman
        assert (enc.FORMAT != spec.id) == (name == "csr8+huffman")
        assert wf.huffman_coded(name) == coding.huffman == ("+huffman" in name)
        assert wf.decode_mode(name) == ("stream" if name.endswith("-stream") else "init")
        for other in spec.codings:
            assert wf.parse(wf.with_coding(name, other)) == (spec, other)
    assert [f.name for f in wf.FORMATS] == [n for n in NAMES if "+" not in n]
    for bad in ("none", "palette+gzip", "CSR8", "", None):
        assert wf.find(bad) is None and wf.coding_of(bad) is None and not wf.huffman_coded(bad)
        with pytest.raises(ValueError, match="is not a weight format"):
            wf.parse(bad)
    with pytest.raises(ValueError):
        wf.DENSE.variant(wf.Coding.HUFFMAN)
    with pytest.raises(ValueError):
        wf.by_id(0)
    assert [wf.Coding.for_mode(m) for m in (None, *wf.HUFFMAN_MODES)] == list(wf.Coding)
    assert {int(c) for c in wf.Coding} == {0, 1, 2}


def _header_enum(name: str) -> dict[str, int]:
    text = (RUNTIME_DIR / "include" / "edgesparse.h").read_text()
    body = re.search(r"typedef enum \{([^}]*)\}\s*" + name + ";", text).group(1)
    return {m[0]: int(m[1]) for m in re.findall(r"(ES_\w+)\s*=\s*(\d+)", body)}


def test_enum_values_equal_the_c_headers_es_format_t():
    header = _header_enum("es_format_t")
    assert header.pop("ES_FMT_NONE") == 0
    assert header == {f"ES_FMT_{f.format_id(c).name}": int(f.format_id(c))
                      for f in wf.FORMATS for c in f.codings}
    palette = _header_enum("es_palette_coding_t") if "es_palette_coding_t" in \
        (RUNTIME_DIR / "include" / "edgesparse.h").read_text() else None
    if palette:  # once the C side names the codings
        assert sorted(palette.values()) == sorted(int(c) for c in wf.Coding)


def _fc(weights):
    rows, cols = weights.shape
    return Layer(0, "fc", OpCode.FULLY_CONNECTED, [0], 1,
                 dict(in_features=cols, out_features=rows, batches=1, output_zero_point=0,
                      act_min=-128, act_max=127),
                 weights=weights.astype(np.int8), bias=np.zeros(rows, np.int32),
                 mult=np.full(rows, 1 << 30, np.int32), shift=np.zeros(rows, np.int32))


COLS = (1, 4, 30, 32, 784)


def test_scratch_bytes_equal_the_registry_and_the_c_runtime(tmp_path):
    for name in NAMES:
        spec = wf.by_name(name)
        for cols in COLS:
            assert select.scratch_bytes(_fc(np.ones((2, cols))), name) == spec.scratch_bytes(cols)
    assert [wf.NM24.scratch_bytes(c) for c in COLS] == [24 * (c // 4) for c in COLS]
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc to run es_matvec_scratch_bytes")
    src = tmp_path / "scratch.c"
    src.write_text('#include <stdio.h>\n#include "edgesparse.h"\n#include "es_matvec.h"\n'
                   "int main(void) {\n"
                   f"    static const unsigned f[] = {{{', '.join(str(int(s.id)) for s in wf.FORMATS)}}};\n"
                   f"    static const unsigned c[] = {{{', '.join(map(str, COLS))}}};\n"
                   "    for (unsigned i = 0; i < sizeof f / sizeof f[0]; ++i)\n"
                   "        for (unsigned j = 0; j < sizeof c / sizeof c[0]; ++j)\n"
                   '            printf("%u %u %u\\n", f[i], c[j], '
                   "(unsigned)es_matvec_scratch_bytes((uint8_t)f[i], c[j]));\n"
                   "    return 0;\n}\n")
    srcs = sorted((RUNTIME_DIR / "src").rglob("*.c"))  # every format registered (ES_REGISTRY_ALL)
    subprocess.run(["gcc", "-std=c99", "-DES_REGISTRY_ALL", f"-I{RUNTIME_DIR / 'include'}",
                    f"-I{RUNTIME_DIR / 'src'}",
                    str(src), *map(str, srcs), "-o", str(tmp_path / "scratch")], check=True)
    out = subprocess.run([str(tmp_path / "scratch")], check=True, capture_output=True, text=True)
    seen = {(int(f), int(c)): int(n) for f, c, n in (line.split() for line in out.stdout.splitlines())}
    assert seen == {(int(s.id), c): s.scratch_bytes(c) for s in wf.FORMATS for c in COLS}


def test_specs_hold_the_ops_the_lowering_marks_sparse_capable():
    assert wf.SPARSE_OPS == frozenset(SPARSE_CAPABLE_OPS)
    assert wf.DENSE.holds_op(OpCode.DEPTHWISE_CONV_2D)
    # depthwise: dense, or CSR16 (the sparse depthwise kernel, the only format with its costs)
    assert [f for f in wf.FORMATS if f.holds_op(OpCode.DEPTHWISE_CONV_2D)] == [wf.DENSE, wf.CSR16]
    assert [f for f in wf.FORMATS if f.depthwise_costs is not None] == [wf.CSR16]
    w = np.zeros((4, 30), np.int8)
    w[:, ::3] = 1
    assert not wf.NM24.applicable(w) and not wf.BLOCK1X4.applicable(w)
    assert wf.NM24.why_not(w) == wf.BLOCK1X4.why_not(w) == \
        "its 30 columns (reduction length) are not a multiple of 4"
    assert not wf.PALETTE_CSR.applicable(np.zeros((2, 8), np.int8))
    assert wf.PALETTE_CSR.why_not(np.zeros((2, 8), np.int8)) == "every weight is zero"


def test_index_bits_and_kept_ram():
    w = np.zeros((8, 64), np.int8)
    w[:, ::4] = np.arange(1, 9)[:, None]
    assert [f.bits(w)[0] for f in wf.FORMATS[:5]] == [None, 8, 16, 16, 16]
    assert wf.PALETTE.bits(w) == (None, 4) and wf.PALETTE_CSR.bits(w) == (4, 4)
    for name in NAMES:
        spec, coding = wf.parse(name)
        ram = select.ram_bytes(_fc(w), name)
        assert ram == spec.ram_bytes(w, coding)
        assert (ram > 0) == coding.huffman


def test_isa_axis():
    assert [i.value for i in Isa] == ["c", "dsp", "mve"] and Isa("dsp") is Isa.DSP
    assert (isa_of(False), isa_of(True), isa_of(True, mve=True)) == (Isa.C, Isa.DSP, Isa.MVE)
    assert FALLBACK == {Isa.MVE: Isa.DSP}
    from toolchain.targets.boards import load_board

    assert {b: board_isa(load_board(b)) for b in ("mps2-an385", "mps2-an386", "mps3-an547")} == \
        {"mps2-an385": Isa.C, "mps2-an386": Isa.DSP, "mps3-an547": Isa.MVE}
    for f in wf.FORMATS:
        assert set(f.costs) == {Isa.C, Isa.DSP}, f.name  # MVE has no kernels of its own yet
        assert f.cost(Isa.MVE) is f.cost(Isa.DSP) and f.cost("c") is f.costs[Isa.C]
    rng = np.random.default_rng(0)
    w = (rng.integers(-127, 128, (32, 64)) * (rng.random((32, 64)) > 0.7)).astype(np.int8)
    layers = [_fc(w)]
    by_isa = {isa: select.choose_formats(layers, isa=isa)[0] for isa in Isa}
    assert by_isa[Isa.MVE].instructions == by_isa[Isa.DSP].instructions
    assert by_isa[Isa.C].instructions != by_isa[Isa.DSP].instructions


# --- nothing outside the registry parses a format name -------------------------------------

ALLOWED = {"toolchain/encode/weight_formats.py"}  # the encoders may spell their own NAME
# (file, literal) pairs that are not format names: the benchmark's weight pattern "block1x4"
ALLOWED_LITERALS = {("benchmarks/goals.py", "'block1x4': a format name literal")}
_METHODS = {"startswith": str.startswith, "endswith": str.endswith, "split": str.__contains__,
            "rsplit": str.__contains__, "partition": str.__contains__,
            "rpartition": str.__contains__}


def _name_parsing(source: str) -> list[tuple[int, str]]:
    """(line, what) for each place in `source` that takes a weight format name apart or
    compares one with a literal, outside `NAME = ...` assignments and docstrings."""
    tree = ast.parse(source)
    skip, parent = set(), {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[child] = node
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(node.value)  # docstrings and bare strings
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", getattr(t, "attr", None)) == "NAME" for t in node.targets):
            skip.update(ast.walk(node.value))
    found = []
    for node in ast.walk(tree):
        if node in skip or not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        s, up = node.value, parent.get(node)
        fragment = s == "+" or len(s) >= 3  # "+" joins a coding; shorter pieces are too common
        if "+huffman" in s or s == "-stream":
            found.append((node.lineno, f"{s!r}: a Huffman coding suffix"))
        elif s in wf.NAMES and s != wf.DENSE.name:
            found.append((node.lineno, f"{s!r}: a format name literal"))
        elif isinstance(up, ast.Call) and isinstance(up.func, ast.Attribute) and \
                up.func.attr in _METHODS and node in up.args and fragment and \
                any(_METHODS[up.func.attr](n, s) for n in wf.NAMES):
            found.append((node.lineno, f".{up.func.attr}({s!r}) on a format name"))
        elif isinstance(up, ast.Compare) and fragment and any(s in n for n in wf.NAMES) and (
                s == wf.DENSE.name or up.left is node and
                any(isinstance(op, (ast.In, ast.NotIn)) for op in up.ops)):
            found.append((node.lineno, f"{s!r} compared with a format name"))
        elif s == wf.DENSE.name and isinstance(up, ast.keyword) and up.arg in ("force", "force_format"):
            found.append((node.lineno, f"{up.arg}={s!r}"))
    return found


@pytest.mark.parametrize("snippet", [
    'x = "+huffman" in name',
    'y = name.split("+")[0]',
    'z = fmt.startswith("palette")',
    'w = fmt.startswith("csr")',
    'if fmt == "dense": pass',
    'k = {"nm2:4": 16}',
    'mode = "stream" if fmt.endswith("-stream") else "init"',
    'choose_formats(layers, force="dense")',
    'ok = "csr" in fmt',
])
def test_the_name_parsing_check_catches(snippet):
    assert _name_parsing(snippet), snippet


def test_the_name_parsing_check_lets_pass():
    assert not _name_parsing('"""Docstrings may say "palette+huffman" and fmt == "dense"."""\n'
                             'NAME = "csr8"\n'
                             'label = "dense"\n'
                             'path = out / "build" / "dense"\n'
                             'parts = op_name.split(";")[0].split("/")\n')


def test_no_module_parses_a_format_name_outside_the_registry():
    """toolchain/, the public API (edgesparse/) and benchmarks/."""
    offenders = []
    paths = [p for d in ("toolchain", "edgesparse", "benchmarks") for p in (REPO / d).rglob("*.py")]
    assert len(paths) > 50
    for path in sorted(paths):
        rel = path.relative_to(REPO).as_posix()
        if rel in ALLOWED:
            continue
        offenders += [f"{rel}:{line}: {what}" for line, what in _name_parsing(path.read_text())
                      if (rel, what) not in ALLOWED_LITERALS]
    assert not offenders, "format names parsed outside toolchain/encode/weight_formats.py:\n" + \
        "\n".join(offenders)


def _runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs (imports under `if TYPE_CHECKING:` left out)."""
    tree = ast.parse(path.read_text())
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(ast.walk(node))
    out = set()
    for node in ast.walk(tree):
        if node in typing_only:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_encode_does_not_import_plan_and_the_leaves_stay_leaves():
    for path in sorted((REPO / "toolchain" / "encode").glob("*.py")):
        bad = [m for m in _runtime_imports(path) if m.startswith("toolchain.plan")]
        assert not bad, f"{path.name} imports {bad}"
    assert not [m for m in _runtime_imports(REPO / "toolchain" / "isa.py") if m.startswith("toolchain")]
    allowed = {"toolchain.encode", "toolchain.encode.format", "toolchain.isa"}
    assert {m for m in _runtime_imports(REPO / "toolchain" / "encode" / "weight_formats.py")
            if m.startswith("toolchain")} <= allowed
