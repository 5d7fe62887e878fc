"""Per-layer weight format selection, from table bytes and the instruction cost model
(costs.py), under one of three goals:

  speed     the fastest format per layer; with a flash budget, layers are moved to smaller
            formats where that costs the fewest extra instructions per byte saved, until the
            weight tables fit (BudgetError if even the smallest formats do not);
  size      the smallest table per layer;
  balanced  (default) the smallest table among the formats no slower than dense: sparse
            formats are taken where they pay in both flash and time.

Ties go to the earlier format in ENCODERS (dense first, its kernel being the simplest).
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.encode import block, csr, csr16, dense, nm, palette
from toolchain.encode.format import OpCode, align
from toolchain.errors import BudgetError, ToolchainError
from toolchain.plan import costs
from toolchain.plan.lower import Layer

OPTIMIZE_GOALS = ("speed", "size", "balanced")

ENCODERS = {m.NAME: m for m in (dense, csr, csr16, block, nm, *palette.ENCODERS)}
HUFFMAN_MODES = ("init", "stream")  # palette streams Huffman decoded at init into RAM, or per row


def _offered(name: str, huffman: str | None) -> bool:
    """Huffman-coded palette formats are candidates only when asked for, in one decode mode."""
    if "+huffman" not in name:
        return True
    return huffman is not None and name.endswith("-stream") == (huffman == "stream")


@dataclass
class Choice:
    format: str  # a key of ENCODERS, or "none" for layers without weights
    table_bytes: int  # weight table only; bias and requant tables are counted apart
    candidates: dict[str, int]  # format -> table bytes, for the report
    scratch_bytes: int = 0  # arena scratch the layer's kernel needs in this format
    instructions: dict[str, int] | None = None  # format -> estimated instructions (cost model)
    ram_bytes: int = 0  # arena bytes the layer keeps across inferences (Huffman palettes)

    @property
    def estimated_instructions(self) -> int | None:
        return None if not self.instructions else self.instructions[self.format]


def applicable_formats(layer: Layer, huffman: str | None = None) -> list[str]:
    """The weight formats whose kernel can run this layer (dense always can); huffman: offer
    the Huffman-coded palette formats in that decode mode ("init" or "stream")."""
    if layer.weights is None:
        return []
    if not layer.sparse_capable:
        return [dense.NAME]
    return [name for name, enc in ENCODERS.items()
            if name == dense.NAME or (_offered(name, huffman) and
                                      getattr(enc, "applicable", lambda w: True)(layer.weights))]


def ram_bytes(layer: Layer, fmt: str) -> int:
    """Arena bytes a layer keeps across inferences in format fmt (Huffman palettes)."""
    return getattr(ENCODERS[fmt], "ram_bytes", lambda w: 0)(layer.weights) if layer.weights is not None else 0


def scratch_bytes(layer: Layer, fmt: str) -> int:
    """Arena scratch the layer's kernel needs with weight format fmt (runtime_c checks the
    same sizes: es_conv2d_im2col_bytes + es_matvec_scratch_bytes)."""
    if layer.weights is None or layer.opcode not in (OpCode.FULLY_CONNECTED, OpCode.CONV_2D):
        return 0
    cols = layer.weights.shape[1]
    need = nm.scratch_bytes(cols) if fmt == nm.NAME else 0
    if layer.opcode == OpCode.CONV_2D:
        p = layer.params
        direct = p["k_h"] == 1 and p["k_w"] == 1 and p["pad_top"] == 0 and p["pad_left"] == 0
        need += 0 if direct else align(cols)
    return need


def _im2col_bytes(layer: Layer) -> int:
    return scratch_bytes(layer, dense.NAME) if layer.opcode == OpCode.CONV_2D else 0


def why_not(layer: Layer, fmt: str) -> str | None:
    """Why weight format fmt cannot hold this layer's weights, or None when it can."""
    mode = "stream" if fmt.endswith("-stream") else "init"
    if fmt not in ENCODERS:
        return f"{fmt!r} is not a weight format (known: {', '.join(ENCODERS)})"
    if layer.weights is None or fmt in applicable_formats(layer, mode):
        return None
    if not layer.sparse_capable:
        return f"{layer.opcode.name} layers are stored dense only"
    w = layer.weights
    rows, cols = w.shape
    if fmt in (block.NAME, nm.NAME) and cols % 4:
        return f"its {cols} columns (reduction length) are not a multiple of 4"
    if fmt == nm.NAME:
        return "a group of 4 consecutive weights of a row holds more than 2 nonzeros"
    if fmt.startswith("palette"):
        sparse = fmt.startswith("palette-csr")
        n = len(palette.codebook(w, sparse))
        if sparse and not w.any():
            return "every weight is zero"
        return (f"its int8 weights take {n} distinct values{' (0 included)' if sparse else ''}, "
                f"more than the {1 << palette.MAX_BITS} a palette holds")
    return f"the [{rows}, {cols}] weight matrix exceeds the format's limits"


def choose_formats(layers: list[Layer], force: str | None = None, optimize: str = "balanced",
                   flash_budget: int | None = None, dsp: bool = True,
                   huffman: str | None = None, force_strict: bool = False) -> list[Choice]:
    """force: build every weighted layer in that format where it applies, dense elsewhere
    ("dense" gives the all-dense baseline the report compares against); with force_strict, a
    FULLY_CONNECTED / CONV_2D layer the format cannot hold is a ToolchainError naming the
    layer and the reason instead (DEPTHWISE_CONV_2D, dense only, stays dense). flash_budget: bytes
    the weight tables may take in total (speed only; the caller subtracts the rest of the
    blob). dsp: whether the target runs the DSP kernels (the cost model differs). huffman:
    also offer Huffman-coded palettes, decoded "init" or "stream" (HUFFMAN_MODES)."""
    if optimize not in OPTIMIZE_GOALS:
        raise ValueError(f"optimize must be one of {OPTIMIZE_GOALS}, got {optimize!r}")
    if huffman is not None and huffman not in HUFFMAN_MODES:
        raise ValueError(f"huffman must be one of {HUFFMAN_MODES}, got {huffman!r}")
    choices = []
    for layer in layers:
        if layer.weights is None:
            choices.append(Choice("none", 0, {}))
            continue
        names = applicable_formats(layer, huffman)
        if force is not None:
            offered = applicable_formats(layer, "stream" if force.endswith("-stream") else "init")
            if force_strict and force not in offered and layer.sparse_capable:
                raise ToolchainError(f"layer {layer.name}: weight format {force} does not apply: "
                                     f"{why_not(layer, force)}; build it with another format or "
                                     "give its weights the format's pattern")
            names = [force] if force in offered else [dense.NAME]
        sizes = {n: ENCODERS[n].table_bytes(layer.weights) for n in names}
        instr = {n: costs.estimate(layer, n, dsp, _im2col_bytes(layer)) for n in names}
        if optimize == "size":
            best = min(names, key=lambda n: (sizes[n], names.index(n)))
        elif optimize == "speed":
            best = min(names, key=lambda n: (instr[n], names.index(n)))
        else:
            ok = [n for n in names if instr[n] <= instr[dense.NAME]] if dense.NAME in instr else names
            best = min(ok or names, key=lambda n: (sizes[n], names.index(n)))
        choices.append(Choice(best, sizes[best], sizes, scratch_bytes(layer, best), instr,
                              ram_bytes(layer, best)))
    if flash_budget is not None:
        _fit_budget(layers, choices, flash_budget)
    return choices


def _fit_budget(layers: list[Layer], choices: list[Choice], budget: int) -> None:
    smallest = sum(min(c.candidates.values()) for c in choices if c.candidates)
    if smallest > budget:
        raise BudgetError(f"the weight tables need at least {smallest:,} bytes in their smallest "
                          f"formats, over the flash budget by {smallest - budget:,} bytes; prune "
                          "further or raise --flash-budget")
    while sum(c.table_bytes for c in choices) > budget:
        best = None
        for i, c in enumerate(choices):
            for name, size in c.candidates.items():
                saved = c.table_bytes - size
                if saved > 0:
                    extra = c.instructions[name] - c.instructions[c.format]
                    key = (extra / saved, i, name)
                    if best is None or key < best[0]:
                        best = (key, i, name)
        _, i, name = best
        c = choices[i]
        c.format, c.table_bytes = name, c.candidates[name]
        c.scratch_bytes = scratch_bytes(layers[i], name)
        c.ram_bytes = ram_bytes(layers[i], name)
