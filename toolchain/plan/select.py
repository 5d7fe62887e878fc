"""Per-layer weight format selection, from table bytes and the instruction cost model
(costs.py), under one of three goals:

  speed     the fastest format per layer; with a flash budget, layers are moved to smaller
            formats where that costs the fewest extra instructions per byte saved, until the
            weight tables fit (BudgetError if even the smallest formats do not);
  size      the smallest table per layer;
  balanced  (default) the smallest table among the formats no slower than dense: sparse
            formats are taken where they pay in both flash and time;
  compact   from balanced's choice, layers move to smaller formats (the most bytes saved
            per instruction added first) while the model's weighted layers together stay
            at most as slow as all of them dense: a small layer may run slower than dense
            where the big ones run faster (--compress max's default).

Ties go to the earlier format in weight_formats.NAMES (dense first, its kernel being the simplest).
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.encode import weight_formats as wf
from toolchain.encode.format import OpCode, align
from toolchain.encode.weight_formats import ENCODERS, HUFFMAN_MODES, NO_WEIGHTS  # noqa: F401
from toolchain.errors import BudgetError, ToolchainError, UnsupportedOpError
from toolchain.isa import Isa
from toolchain.plan import costs
from toolchain.plan.dw_plane import MAX_PLANE_BYTES as DW_MAX_PLANE_BYTES
from toolchain.plan.dw_plane import MAX_STRIDE as DW_MAX_STRIDE
from toolchain.plan.dw_plane import dw_plane
from toolchain.plan.dw_plane import scratch_bytes as dw_scratch_bytes
from toolchain.plan.lower import Layer

OPTIMIZE_GOALS = ("speed", "size", "balanced", "compact")
# ENCODERS (user-visible format name -> encoder) and HUFFMAN_MODES are the format registry's,
# toolchain/encode/weight_formats.py, re-exported for the callers that import them from here


@dataclass
class Choice:
    format: str  # a user-visible format name (weight_formats.NAMES), or NO_WEIGHTS
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
    return [name for name in wf.NAMES
            if _holds(layer, wf.parse(name)[0]) and wf.offered(name, huffman)]


def _holds(layer: Layer, spec: wf.WeightFormat) -> bool:
    if not spec.holds_op(layer.opcode):
        return False
    if spec is wf.DENSE:
        return True
    if layer.opcode == OpCode.DEPTHWISE_CONV_2D and _sparse_depthwise_refusal(layer):
        return False
    return spec.applicable(layer.matrix)


def _sparse_depthwise_refusal(layer: Layer) -> str | None:
    """Why the sparse depthwise kernel cannot run this DEPTHWISE_CONV_2D layer, None when it can."""
    if dw_plane(layer.params) is None:
        return (f"its input plane does not fit the sparse depthwise kernel (a stride over "
                f"{DW_MAX_STRIDE} along its fast axis, or a plane over {DW_MAX_PLANE_BYTES:,} bytes)")
    try:
        layer.bias_for(wf.CSR16.id)
    except UnsupportedOpError:
        return "bias + input offset * sum(weights) exceeds int32"
    return None


def ram_bytes(layer: Layer, fmt: str) -> int:
    """Arena bytes a layer keeps across inferences in format fmt (formats decoded at init; with
    LAYER_BIAS_FOLD, its folded bias too)."""
    if layer.weights is None:
        return 0
    from toolchain.encode.blob import bias_folds

    spec, coding = wf.parse(fmt)
    fold = 4 * layer.matrix.shape[0] if bias_folds(layer, fmt) else 0  # the folded bias
    return spec.ram_bytes(layer.matrix, coding) + fold


C4_STATE_BYTES = 28  # runtime_c/src/es_matvec.h ES_C4_STATE_BYTES
C4_RECORD_BYTES = 16  # ES_C4_RECORD_BYTES


def scratch_bytes(layer: Layer, fmt: str, rq: bool = True) -> int:
    """Arena scratch the layer's kernel needs with weight format fmt (runtime_c checks the
    same sizes: es_conv2d_im2col_bytes + es_matvec_scratch_bytes, the latter the format
    spec's scratch_bytes; a format with a two- or four-pixel conv kernel, spec.conv2 or
    spec.conv4, needs its int16 columns). rq: with them, a per-tensor CONV_2D's per-channel
    multiplier and shift tables (es_conv2d_rq_offset)."""
    if layer.weights is None:
        return 0
    spec = wf.by_name(fmt)
    if layer.opcode == OpCode.DEPTHWISE_CONV_2D:
        # the sparse kernel's channel plane and tap offsets (es_dw_plane_scratch_bytes)
        return 0 if spec is wf.DENSE else align(dw_scratch_bytes(layer.params))
    if layer.opcode not in (OpCode.FULLY_CONNECTED, OpCode.CONV_2D):
        return 0
    cols = layer.weights.shape[1]
    need = spec.scratch_bytes(cols)
    if layer.opcode == OpCode.CONV_2D:
        p = layer.params
        direct = p["k_h"] == 1 and p["k_w"] == 1 and p["pad_top"] == 0 and p["pad_left"] == 0
        if spec.conv4:
            # four pixels' columns as int16 (es_conv4_bytes; 2:4: their pair table,
            # es_conv4_pairs_bytes) instead of the format's own scratch, and unless read
            # straight from the input, a slot per pixel for a kernel row crossing the padding
            # (2:4 and block 1x4, whose buffers go by groups of four columns, with rows that
            # are not whole groups: a whole column)
            row = int(p["k_w"]) * int(p["in_c"])
            slot = cols if spec in (wf.NM24, wf.BLOCK1X4) and row % 4 else row
            buffer = cols // 4 * 96 if spec is wf.NM24 else cols * 8
            # then the whole-layer block's state before the buffer and a record per output
            # channel after (es_c4_state_t: ES_C4_STATE_BYTES, ES_C4_RECORD_BYTES)
            need = C4_STATE_BYTES + buffer + (0 if direct else 4 * align(slot)) + C4_RECORD_BYTES * int(p["out_c"])
        elif spec.conv2:
            # two pixels' columns as int16 pairs (es_conv2_bytes), plus an int8 column to
            # expand from when the taps are not whole groups of four
            need += (cols + 3) // 4 * 16 + (0 if direct or p["in_c"] % 4 == 0 else align(cols))
        else:
            need += 0 if direct else align(cols)
        if rq and layer.rq_per_tensor:  # the per-channel tables the runtime fills
            need = align(need) + 8 * int(p["out_c"])
    return need


def _im2col_bytes(layer: Layer) -> int:
    return scratch_bytes(layer, wf.DENSE.name, rq=False) if layer.opcode == OpCode.CONV_2D else 0


def why_not(layer: Layer, fmt: str) -> str | None:
    """Why weight format fmt cannot hold this layer's weights, or None when it can."""
    found = wf.find(fmt)
    if found is None:
        return f"{fmt!r} is not a weight format (known: {', '.join(wf.NAMES)})"
    if layer.weights is None or fmt in applicable_formats(layer, wf.decode_mode(fmt)):
        return None
    if not found[0].holds_op(layer.opcode):
        held = [n for n in wf.NAMES if wf.parse(n)[0].holds_op(layer.opcode)]
        return f"{layer.opcode.name} layers are stored {' or '.join(held)} only"
    if layer.opcode == OpCode.DEPTHWISE_CONV_2D and (why := _sparse_depthwise_refusal(layer)):
        return why
    return found[0].why_not(layer.matrix)


def choose_formats(layers: list[Layer], force: str | None = None, optimize: str = "balanced",
                   flash_budget: int | None = None, isa: Isa = Isa.DSP,
                   huffman: str | None = None, force_strict: bool = False,
                   dense_limit: int | None = None) -> list[Choice]:
    """force: build every weighted layer in that format where it applies, dense elsewhere
    ("dense" gives the all-dense baseline the report compares against); with force_strict, a
    FULLY_CONNECTED / CONV_2D layer the format cannot hold is a ToolchainError naming the
    layer and the reason instead (DEPTHWISE_CONV_2D, dense only, stays dense). flash_budget: bytes
    the weight tables may take in total (speed only; the caller subtracts the rest of the
    blob). isa: the instruction set the target's kernels use (the cost model differs). huffman:
    also offer Huffman-coded palettes, decoded "init" or "stream" (HUFFMAN_MODES). dense_limit:
    compact's bound on the weighted layers' estimated instructions (default: their all-dense
    total; plan_graph passes the model's own layers' when plan/dead.py removed neurons)."""
    if optimize not in OPTIMIZE_GOALS:
        raise ValueError(f"optimize must be one of {OPTIMIZE_GOALS}, got {optimize!r}")
    if huffman is not None and huffman not in HUFFMAN_MODES:
        raise ValueError(f"huffman must be one of {HUFFMAN_MODES}, got {huffman!r}")
    choices = []
    for layer in layers:
        if layer.weights is None:
            choices.append(Choice(NO_WEIGHTS, 0, {}))
            continue
        names = applicable_formats(layer, huffman)
        if force is not None:
            offered = applicable_formats(layer, wf.decode_mode(force))
            if force_strict and force not in offered and layer.sparse_capable:
                raise ToolchainError(f"layer {layer.name}: weight format {force} does not apply: "
                                     f"{why_not(layer, force)}; build it with another format or "
                                     "give its weights the format's pattern")
            names = [force] if force in offered else [wf.DENSE.name]
        sizes = {n: _table_bytes(layer, n) for n in names}
        instr = {n: costs.estimate(layer, n, isa, _im2col_bytes(layer)) for n in names}
        if optimize == "size":
            best = min(names, key=lambda n: (sizes[n], names.index(n)))
        elif optimize == "speed":
            best = min(names, key=lambda n: (instr[n], names.index(n)))
        else:
            dense = wf.DENSE.name
            ok = [n for n in names if instr[n] <= instr[dense]] if dense in instr else names
            best = min(ok or names, key=lambda n: (sizes[n], names.index(n)))
        choices.append(Choice(best, sizes[best], sizes, scratch_bytes(layer, best), instr,
                              ram_bytes(layer, best)))
    if optimize == "compact" and force is None:
        _compact(layers, choices, dense_limit)
    if flash_budget is not None:
        _fit_budget(layers, choices, flash_budget)
    return choices


def dense_estimate(layers: list[Layer], isa: Isa = Isa.DSP) -> int:
    """Estimated instructions of the weighted layers, every one dense."""
    return sum(costs.estimate(l, wf.DENSE.name, isa, _im2col_bytes(l)) for l in layers
               if l.weights is not None)


def _compact(layers: list[Layer], choices: list[Choice], limit: int | None = None) -> None:
    """optimize compact: from balanced's choices, move layers to smaller formats, the move
    saving the most bytes per instruction added first (one that adds none before any), while
    the weighted layers' estimated instructions stay within `limit` (default: their all-dense
    total)."""
    dense = wf.DENSE.name
    weighted = [i for i, c in enumerate(choices) if c.instructions and dense in c.instructions]
    if limit is None:
        limit = sum(choices[i].instructions[dense] for i in weighted)
    total = sum(choices[i].instructions[choices[i].format] for i in weighted)
    while True:
        best = None
        for i in weighted:
            c = choices[i]
            for name, size in c.candidates.items():
                saved = c.table_bytes - size
                extra = c.instructions[name] - c.instructions[c.format]
                if saved <= 0 or total + extra > limit:
                    continue
                key = (max(extra, 0) / saved, -saved, i, name)
                if best is None or key < best[0]:
                    best = (key, i, name, extra)
        if best is None:
            return
        _, i, name, extra = best
        _move(layers, choices, i, name)
        total += extra


def _move(layers: list[Layer], choices: list[Choice], i: int, name: str) -> None:
    """Layer i to format name (one of its candidates), its scratch and RAM with it."""
    c = choices[i]
    c.format, c.table_bytes = name, c.candidates[name]
    c.scratch_bytes = scratch_bytes(layers[i], name)
    c.ram_bytes = ram_bytes(layers[i], name)


def _table_bytes(layer: Layer, fmt: str) -> int:
    spec, coding = wf.parse(fmt)
    return spec.table_bytes(layer.matrix, coding)


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
        _move(layers, choices, i, name)
