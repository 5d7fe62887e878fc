"""The instruction set a target's kernels use: an axis through planning and costs, not a bool.

  c    plain C kernels (Cortex-M0+/M3, or a core built without its DSP extension);
  dsp  the DSP extension's SIMD kernels (Cortex-M4/M7/M33);
  mve  the M-profile vector extension (Cortex-M55). There are no MVE kernels yet: an MVE
       target runs the DSP kernels, and its costs fall back to dsp's (FALLBACK).

A leaf module: it imports nothing from the toolchain.
"""
from __future__ import annotations

from enum import Enum


class Isa(str, Enum):
    C = "c"
    DSP = "dsp"
    MVE = "mve"

    def __str__(self) -> str:
        return self.value


# the ISA whose kernels (and cost figures) an ISA without its own ones uses
FALLBACK: dict[Isa, Isa] = {Isa.MVE: Isa.DSP}


def isa_of(dsp: bool, mve: bool = False) -> Isa:
    """The widest ISA a core with these extensions runs."""
    if mve:
        return Isa.MVE
    return Isa.DSP if dsp else Isa.C


def board_isa(board) -> Isa:
    """The ISA of a toolchain.targets.boards.Board (its dsp and mve flags, as its .toml
    declares them)."""
    return isa_of(bool(board.dsp), bool(getattr(board, "mve", False)))


def lookup(table: dict, isa: Isa):
    """table[isa], or the entry of the ISA it falls back to (mve -> dsp)."""
    isa = Isa(isa)
    while isa not in table:
        if isa not in FALLBACK:
            raise KeyError(f"no entry for ISA {isa.value!r} nor one it falls back to")
        isa = FALLBACK[isa]
    return table[isa]
