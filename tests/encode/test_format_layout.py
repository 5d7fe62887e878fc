"""The C structs in edgesparse.h and toolchain/encode/format.py must describe the same bytes."""
import subprocess

from toolchain.encode import format as fmt
from toolchain.targets.build import RUNTIME_DIR


def _c_program() -> str:
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "edgesparse.h"', "int main(void) {"]
    for s in fmt.STRUCTS:
        lines.append(f'printf("{s.c_name} sizeof %u\\n", (unsigned)sizeof({s.c_name}));')
        for name, _, _ in s.fields:
            lines.append(f'printf("{s.c_name} {name} %u\\n", (unsigned)offsetof({s.c_name}, {name}));')
    consts = {"ES_MAGIC": fmt.MAGIC, "ES_FORMAT_VERSION": fmt.FORMAT_VERSION,
              "ES_NO_TENSOR": fmt.NO_TENSOR, "ES_FLAG_CRC32": fmt.FLAG_CRC32,
              "ES_BLOB_ALIGN_BYTES": fmt.BLOB_ALIGN_BYTES, "ES_TENSOR_CONST": fmt.TENSOR_CONST,
              "ES_VARIANT_DEFAULT": fmt.VARIANT_DEFAULT,
              "ES_VARIANT_ADD_BROADCAST": fmt.VARIANT_ADD_BROADCAST,
              "ES_VARIANT_QUANTIZE_F32": fmt.VARIANT_QUANTIZE_F32,
              "ES_VARIANT_DW_SPARSE": fmt.VARIANT_DW_SPARSE, "ES_LAYER_RQ_WHOLE": fmt.LAYER_RQ_WHOLE,
              "ES_LAYER_RQ_PER_TENSOR": fmt.LAYER_RQ_PER_TENSOR, "ES_LAYER_BIAS_FOLD": fmt.LAYER_BIAS_FOLD,
              "ES_PALETTE_RAW": fmt.PALETTE_RAW, "ES_PALETTE_HUFFMAN_INIT": fmt.PALETTE_HUFFMAN_INIT,
              "ES_PALETTE_HUFFMAN_ROWS": fmt.PALETTE_HUFFMAN_ROWS,
              "ES_PALETTE_MIN_BITS": fmt.PALETTE_MIN_BITS, "ES_PALETTE_MAX_BITS": fmt.PALETTE_MAX_BITS}
    consts.update({f"ES_TYPE_{t.name}": t.value for t in fmt.TensorType})
    consts.update({f"ES_OP_{op.name}": op.value for op in fmt.OpCode})
    consts.update({f"ES_FMT_{f.name}": f.value for f in fmt.WeightFormat})
    consts.update({f"ES_{s.name}": s.value for s in fmt.Status})
    for name in consts:
        lines.append(f'printf("const {name} %lu\\n", (unsigned long){name});')
    lines += ["return 0;", "}"]
    return "\n".join(lines), consts


def test_c_structs_match_python_layout(tmp_path):
    source, consts = _c_program()
    (tmp_path / "layout.c").write_text(source)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", f"-I{RUNTIME_DIR / 'include'}",
                    str(tmp_path / "layout.c"), "-o", str(tmp_path / "layout")], check=True)
    out = subprocess.run([str(tmp_path / "layout")], check=True, capture_output=True, text=True).stdout
    seen = {}
    for line in out.splitlines():
        a, b, v = line.split()
        seen[(a, b)] = int(v)
    for s in fmt.STRUCTS:
        assert seen[(s.c_name, "sizeof")] == s.size, s.c_name
        for name, off in s.offsets().items():
            assert seen[(s.c_name, name)] == off, f"{s.c_name}.{name}"
        assert s.size % 4 == 0, f"{s.c_name} keeps tables after it 4-byte aligned"
    for name, value in consts.items():
        assert seen[("const", name)] == int(value), name


def test_pack_unpack_round_trip_and_field_checks():
    raw = fmt.LAYER.pack(op=9, format=2, variant=0, flags=0, input=[3, fmt.NO_TENSOR], output=4,
                         params_offset=100, params_bytes=44)
    assert len(raw) == fmt.LAYER.size
    back = fmt.LAYER.unpack(raw)
    assert back["input"] == [3, fmt.NO_TENSOR] and back["params_bytes"] == 44
    try:
        fmt.LAYER.pack(op=9)
    except ValueError as e:
        assert "missing" in str(e)
    else:
        raise AssertionError("pack accepted missing fields")
