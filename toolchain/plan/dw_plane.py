"""The padded plane the sparse depthwise kernel copies one input channel into: the Python
mirror of runtime_c's es_dw_plane (ops/es_depthwise_csr16_s8.c), for the scratch size and the
cost model. The fast axis is x unless y rounds fewer output pixels up to groups of four; each
plane row holds stride phases of `wq` cells, so four neighbouring output pixels under one tap
read four consecutive bytes."""
from __future__ import annotations

from dataclasses import dataclass

MAX_STRIDE = 4  # ES_DW_PLANE_MAX_STRIDE: a longer stride along the fast axis stays dense
MAX_PLANE_BYTES = 0x10000  # plane offsets are 16-bit: a larger plane stays dense


def _round4(n: int) -> int:
    return (n + 3) // 4 * 4


@dataclass(frozen=True)
class DwPlane:
    fast_y: bool
    out_s: int  # output pixels along the slow axis
    out_f: int  # along the fast axis
    groups: int  # groups of four pixels per slow-axis row
    wq: int  # cells per stride phase of a plane row
    row_bytes: int
    rows: int
    plane_bytes: int  # a multiple of 4

    @property
    def pixels_computed(self) -> int:
        """Output pixels the kernel computes (rows rounded up to groups of four)."""
        return self.out_s * self.groups * 4


def dw_plane(p: dict) -> DwPlane | None:
    """The plane of a DEPTHWISE_CONV_2D layer's params (lower.py's names), None when the
    sparse kernel cannot lay it out (stride along the fast axis over MAX_STRIDE, a plane over
    MAX_PLANE_BYTES, or sizes past the runtime's limits)."""
    along_x = p["out_h"] * _round4(p["out_w"])
    along_y = p["out_w"] * _round4(p["out_h"])
    y = along_y < along_x
    pick = (lambda a, b: b) if y else (lambda a, b: a)
    s_f = pick(p["stride_w"], p["stride_h"])
    if (s_f > MAX_STRIDE or max(p["out_h"], p["out_w"]) > 0x4000
            or max(p["k_h"], p["k_w"], p["dil_h"], p["dil_w"]) > 0x100):
        return None
    out_s, out_f = pick(p["out_h"], p["out_w"]), pick(p["out_w"], p["out_h"])
    s_s = pick(p["stride_h"], p["stride_w"])
    d_s, d_f = pick(p["dil_h"], p["dil_w"]), pick(p["dil_w"], p["dil_h"])
    k_s, k_f = pick(p["k_h"], p["k_w"]), pick(p["k_w"], p["k_h"])
    groups = (out_f + 3) // 4
    wq = 4 * groups + (k_f - 1) * d_f // s_f
    row_bytes = s_f * wq
    rows = (out_s - 1) * s_s + (k_s - 1) * d_s + 1
    plane_bytes = _round4(rows * row_bytes)
    if plane_bytes > MAX_PLANE_BYTES:
        return None
    return DwPlane(y, out_s, out_f, groups, wq, row_bytes, rows, plane_bytes)


def scratch_bytes(p: dict) -> int:
    """es_dw_plane_scratch_bytes: the plane, one uint32 plane offset per tap and one channel's
    weights expanded to a word each."""
    plane = dw_plane(p)
    return 0 if plane is None else plane.plane_bytes + 8 * p["k_h"] * p["k_w"]
