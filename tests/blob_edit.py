"""Editing a built model blob in tests that check es_model_init's validation."""
from __future__ import annotations

import struct
import zlib

from toolchain.encode import format as fmt


def reseal(blob: bytearray) -> bytes:
    """The blob with its header's CRC-32 made to match its (edited) payload again."""
    h = fmt.HEADER.unpack(blob)
    crc = zlib.crc32(bytes(blob[h["header_bytes"]:h["blob_bytes"]])) & 0xFFFFFFFF
    struct.pack_into("<I", blob, fmt.HEADER.offsets()["crc32"], crc)
    return bytes(blob)


def weights_offset(plan, i: int) -> int:
    """The blob offset of layer i's weight table."""
    h = fmt.HEADER.unpack(plan.blob.data)
    rec = fmt.LAYER.unpack(plan.blob.data, h["layers_offset"] + i * fmt.LAYER.size)
    params = fmt.params_struct(rec["op"], rec["variant"]).unpack(plan.blob.data, rec["params_offset"])
    return params["weights_offset"]


def table_fields(plan, i: int, table) -> tuple[dict, dict]:
    """(values, blob offset of each field) of layer i's weight table header, a `table` Struct."""
    at = weights_offset(plan, i)
    return table.unpack(plan.blob.data, at), {k: at + v for k, v in table.offsets().items()}


def host_init(plan, work):
    """The plan's host library (built in work), and poke(offset, code, value): es_model_init's
    status name for the plan's blob with one struct-packed value changed and the CRC resealed."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, work / "src")
    lib = build_host_library(work / "src", work / "build")

    def poke(offset: int, code: str, value) -> str:
        b = bytearray(plan.blob.data)
        struct.pack_into("<" + code, b, offset, value)
        return init_status(lib, reseal(b))

    return lib, poke
