"""Row bands: a chain of windowed layers computed a few output rows at a time, so the tensors
between them never exist whole (issue 22; the line-buffer form of MCUNetV2's patch-based
inference, without its recomputation).

A chain is L1 -> L2 -> ... -> Lm: convolutions or depthwise convolutions, each reading only the
one before it (one reader per tensor in between), optionally closed by an ADD of the chain's
output and the chain's own input x (a residual block), whose output is then written over x row
band by row band. The chain's last tensor is cut into bands of R rows; for each band, each layer
computes only the rows of its output that the next layer needs and that no earlier band
computed, into a small buffer holding just the rows the next layer's windows read; rows an
earlier band computed and this one still reads are first moved to the buffer's start (RESHAPE
layers, a byte copy, in pieces that never overlap). No row is computed twice, so the
instructions grow only by the per-call set-up of the extra layers and the copies.

The rewrite is all toolchain: each band is an ordinary layer of the blob whose tensors are views
(Tensor.view_of) of a buffer or of the chain's input and output, its params those of its rows
(in_h, out_h, pad_top; the bottom padding is implicit, as everywhere), its weight and
requantization tables the first band's (Layer.shares). The runtime checks each band like any
layer. The arena planner places views inside their buffer; arena.validate_contents follows every
byte through the plan and refuses any layer that would read bytes no longer holding what it
expects (a residual row overwritten too early, a row moved before it was read).

plan_memory tries the chains through the layer where the arena peaks with band heights
R = 1, 2, 4, ... and keeps the rewrite that shrinks the arena most, chain after chain, while
each shrinks it by at least MIN_SAVING; with a RAM budget, the cheapest plan that fits.
"""
from __future__ import annotations

import dataclasses

from toolchain.encode import weight_formats as wf
from toolchain.enums import OpCode
from toolchain.errors import ToolchainError
from toolchain.ir.graph import Graph
from toolchain.plan.arena import ArenaPlan, peak_layer, plan_arena, validate_contents
from toolchain.plan.lower import Layer
from toolchain.plan.select import NO_WEIGHTS, Choice

# layers a chain is made of; a streamed input's READ_INPUT (stream.py) may also start one, with
# a window of one row
WINDOWED = (OpCode.CONV_2D, OpCode.DEPTHWISE_CONV_2D)
# a rewrite is kept when it takes at least this fraction off the arena
MIN_SAVING = 0.05
# longest chain tried (layers, the residual ADD included)
MAX_CHAIN = 4


@dataclasses.dataclass
class Window:
    """One layer's vertical geometry: output row r reads input rows r * stride - pad + i * dil
    (0 <= i < k) that lie inside [0, in_h)."""

    k: int
    stride: int
    dil: int
    pad: int
    in_h: int
    out_h: int

    def rows_in(self, a: int, b: int) -> tuple[int, int]:
        """The input rows output rows [a, b) read (a < b)."""
        lo = max(0, a * self.stride - self.pad)
        hi = min(self.in_h, (b - 1) * self.stride - self.pad + (self.k - 1) * self.dil + 1)
        return lo, hi


def _window(layer: Layer) -> Window:
    """A convolution's or depthwise convolution's vertical window (READ_INPUT: one row)."""
    p = layer.params
    if layer.opcode == OpCode.READ_INPUT:
        return Window(1, 1, 1, 0, p["rows"], p["rows"])
    return Window(p["k_h"], p["stride_h"], p["dil_h"], p["pad_top"], p["in_h"], p["out_h"])


@dataclasses.dataclass
class Chain:
    layers: list[int]  # L1..Lm, then the residual ADD if any
    residual: bool  # the last layer is ADD(chain output, chain input), written over the input


def find_chains(graph: Graph, layers: list[Layer], choices: list[Choice]) -> list[Chain]:
    """Every chain of two or more windowed layers (the longest from each start, and the ones
    it contains that start there), with its residual ADD when there is one."""
    readers: dict[int, list[int]] = {}
    for i, layer in enumerate(layers):
        for t in layer.inputs:
            readers.setdefault(t, []).append(i)

    def nhwc(t: int) -> bool:
        s = graph.tensors[t].shape
        return (len(s) == 4 and s[0] == 1 and graph.tensors[t].dtype == "int8"
                and graph.tensors[t].view_of is None and (s[2] * s[3]) % 4 == 0)

    def windowed(i: int) -> bool:
        layer = layers[i]
        return (layer.opcode in WINDOWED and layer.shares is None and nhwc(layer.inputs[0])
                and nhwc(layer.output) and not choices[i].ram_bytes
                and not wf.huffman_coded(choices[i].format))

    def reads(i: int) -> bool:
        layer = layers[i]
        return (layer.opcode == OpCode.READ_INPUT and layer.params["first_row"] == 0
                and nhwc(layer.output))

    chains = []
    for start in range(len(layers)):
        if not (windowed(start) or reads(start)):
            continue
        run = [start]
        t = layers[start].output
        while (t not in graph.outputs and len(readers.get(t, [])) == 1 and windowed(readers[t][0])
               and layers[readers[t][0]].inputs[0] == t):
            run.append(readers[t][0])
            t = layers[run[-1]].output
        x = layers[start].inputs[0]
        for end in range(2, len(run) + 1):
            chains.append(Chain(run[:end], False))
        # the residual ADD closing the whole run
        t = layers[run[-1]].output
        if (len(readers.get(t, [])) == 1 and t not in graph.outputs
                and x not in graph.inputs and x not in graph.outputs):
            j = readers[t][0]
            add = layers[j]
            if (add.opcode == OpCode.ADD and add.variant == 0 and sorted(add.inputs) == sorted([t, x])
                    and sorted(readers.get(x, [])) == sorted([start, j])
                    and graph.tensors[add.output].shape == graph.tensors[x].shape
                    and graph.tensors[add.output].dtype == "int8" and add.output not in graph.outputs):
                chains.append(Chain(run + [j], True))
    return chains


def split_rows(graph: Graph, layers: list[Layer], choices: list[Choice], chain: Chain,
               rows: int) -> tuple[Graph, list[Layer], list[Choice]] | None:
    """The model with `chain` computed in bands of `rows` rows of its last tensor, or None when
    the chain cannot be (a residual row a later band still reads, a buffer as tall as the
    tensor it replaces, layers of other branches between the chain's)."""
    idx = chain.layers
    start = idx[0]
    if idx != list(range(start, start + len(idx))):
        return None
    ops = [layers[i] for i in idx]
    m = len(ops)
    x = ops[0].inputs[0]
    t_chain = [x] + [layer.output for layer in ops]  # T0 = x, T(j+1) = output of layer j
    last_h = graph.tensors[t_chain[-1]].shape[1]
    if rows >= last_h:
        return None
    wins = [Window(1, 1, 1, 0, last_h, last_h) if layer.opcode == OpCode.ADD else _window(layer)
            for layer in ops]

    # per band, per layer j: (output rows [a, b) it computes, input rows [lo, hi) it reads), or
    # None when it computes nothing new; layer j computes only rows no earlier band did
    bands: list[list[tuple[int, int, int, int] | None]] = []
    done = [0] * m
    for a_last in range(0, last_h, rows):
        band: list[tuple[int, int, int, int] | None] = [None] * m
        a, b = a_last, min(last_h, a_last + rows)
        for j in range(m - 1, -1, -1):
            if j < m - 1:
                if band[j + 1] is None:
                    break
                a, b = max(band[j + 1][2], done[j]), band[j + 1][3]
            if a >= b:
                break
            band[j] = (a, b, *wins[j].rows_in(a, b))
        for j in range(m):
            if band[j] is not None:
                done[j] = band[j][1]
        bands.append(band)

    if chain.residual:  # band k's ADD writes over x rows [a, b): no later band may read them
        for k, band in enumerate(bands):
            if any(later[0] is not None and later[0][2] < band[-1][1] for later in bands[k + 1:]):
                return None

    def row_bytes(t: int) -> int:
        s = graph.tensors[t].shape
        return s[2] * s[3]

    cap = {j: max(band[j][3] - band[j][2] for band in bands if band[j] is not None) for j in range(1, m)}
    if any(cap[j] >= graph.tensors[t_chain[j]].shape[1] for j in cap):
        return None

    tensors = list(graph.tensors)

    def add_tensor(t: int, lo: int, hi: int, view_of: tuple[int, int]) -> int:
        base = graph.tensors[t]
        s = base.shape
        tensors.append(dataclasses.replace(base, index=len(tensors), name=f"{base.name} rows {lo}-{hi - 1}",
                                           shape=(1, hi - lo, s[2], s[3]), view_of=view_of,
                                           holds=(t, lo * row_bytes(t)), data=None))
        return len(tensors) - 1

    buffers = {}
    for j in range(1, m):
        base = graph.tensors[t_chain[j]]
        tensors.append(dataclasses.replace(base, index=len(tensors), name=f"{base.name} (row buffer)",
                                           shape=(1, cap[j], *base.shape[2:]), data=None))
        buffers[j] = len(tensors) - 1
    if chain.residual:  # the ADD's output lies over x
        z = t_chain[-1]
        tensors[z] = dataclasses.replace(tensors[z], view_of=(x, 0))

    def rows_of(j: int, lo: int, hi: int, base_row: int = 0) -> int:
        """A tensor for rows [lo, hi) of T(j): in its buffer (base_row: the row buffer row 0
        holds) or at their own place in T(j)."""
        t = t_chain[j]
        if j in buffers:
            return add_tensor(t, lo, hi, (buffers[j], (lo - base_row) * row_bytes(t)))
        return add_tensor(t, lo, hi, (t, lo * row_bytes(t)))

    new_layers: list[Layer] = []
    new_choices: list[Choice] = []
    first_band: dict[int, int] = {}  # chain position -> index of its first band in the new list
    # buffer of T(j) -> the row its buffer row 0 holds: at first the first row layer j reads
    # (band 0 runs every layer)
    base = {j: bands[0][j][2] for j in buffers}
    computed = [0] * m  # rows of T(j+1) computed so far
    for band in bands:
        # rows of each buffer still read by this band: moved to the buffer's start, in pieces
        # that do not overlap (RESHAPE: a byte copy)
        for j in range(1, m):
            if band[j] is None or band[j][2] <= base[j]:
                continue
            lo, step = band[j][2], band[j][2] - base[j]
            keep = min(band[j][3], computed[j - 1])
            for c0 in range(lo, keep, step):
                c1 = min(keep, c0 + step)
                src, dst = rows_of(j, c0, c1, base[j]), rows_of(j, c0, c1, lo)
                new_layers.append(Layer(ops[j].index, f"{graph.tensors[t_chain[j]].name} rows "
                                        f"{c0}-{c1 - 1} moved up", OpCode.RESHAPE, [src], dst,
                                        dict(bytes=(c1 - c0) * row_bytes(t_chain[j]))))
                new_choices.append(Choice(NO_WEIGHTS, 0, {}))
            base[j] = lo
        for j in range(m):
            if band[j] is None:
                continue
            a, b, lo, hi = band[j]
            layer = ops[j]
            # READ_INPUT reads its streamed input by row number, not through a view
            src = x if layer.opcode == OpCode.READ_INPUT else rows_of(j, lo, hi, base.get(j, 0))
            if j + 1 < m:
                dst = rows_of(j + 1, a, b, base[j + 1])
            else:
                dst = rows_of(m, a, b)
            name = f"{layer.name} [rows {a}-{b - 1}]"
            if layer.opcode == OpCode.ADD:
                p = dict(layer.params, count=(b - a) * row_bytes(x))
                if layer.inputs[0] != x:  # x first: the output lies exactly over input[0]
                    for f1, f2 in (("input1_offset", "input2_offset"),
                                   ("input1_multiplier", "input2_multiplier"),
                                   ("input1_shift", "input2_shift")):
                        p[f1], p[f2] = layer.params[f2], layer.params[f1]
                nl = dataclasses.replace(layer, name=name, inputs=[rows_of(0, a, b), src], output=dst,
                                         params=p, notes=[])
            elif layer.opcode == OpCode.READ_INPUT:
                nl = dataclasses.replace(layer, name=name, output=dst,
                                         params=dict(layer.params, first_row=a, rows=b - a), notes=[])
            else:
                w = wins[j]
                p = dict(layer.params, in_h=hi - lo, out_h=b - a, pad_top=lo - (a * w.stride - w.pad))
                nl = dataclasses.replace(layer, name=name, inputs=[src], output=dst, params=p,
                                         shares=first_band.get(j), notes=[])
            first_band.setdefault(j, start + len(new_layers))
            new_layers.append(nl)
            new_choices.append(_scaled(choices[idx[j]], (b - a) / wins[j].out_h))
            computed[j] = b

    delta = len(new_layers) - m
    later = [dataclasses.replace(layer, shares=layer.shares + delta)
             if layer.shares is not None and layer.shares >= start + m else layer
             for layer in layers[start + m:]]
    return (dataclasses.replace(graph, tensors=tensors), layers[:start] + new_layers + later,
            choices[:start] + new_choices + choices[start + m:])


def _scaled(choice: Choice, share: float) -> Choice:
    """A band's choice: the layer's, its estimated instructions scaled to the band's rows."""
    instr = None if not choice.instructions else {k: int(round(v * share))
                                                  for k, v in choice.instructions.items()}
    return dataclasses.replace(choice, instructions=instr)


def plan_memory(graph: Graph, layers: list[Layer], choices: list[Choice], in_place: bool = True,
                ram_budget: int | None = None) -> tuple[Graph, list[Layer], list[Choice], ArenaPlan]:
    """The arena plan (plan_arena) after the row-band rewrites that shrink it (none when
    in_place is False): (graph, layers, choices, arena) to build the blob from.

    Without a budget, each step takes the rewrite that shrinks the arena most (of those taking
    at least MIN_SAVING off; the fewest bands among equals), until none does. With ram_budget
    (arena bytes), the cheapest plan that fits: none when the arena fits without bands; else at
    each step the rewrite with the fewest layers (the least per-call overhead) among those
    that fit, or the smallest arena when none fits yet, until it fits or nothing shrinks it."""
    best = plan_arena(graph, layers, choices, in_place=in_place)
    if not in_place or (ram_budget is not None and best.arena_bytes <= ram_budget):
        return graph, layers, choices, best
    tried: set = set()
    while ram_budget is None or best.arena_bytes > ram_budget:
        found = None
        # only a chain through the layer where the arena peaks can lower it
        peak, _ = peak_layer(graph, layers, best)
        for chain in find_chains(graph, layers, choices):
            key = tuple(layers[i].name for i in chain.layers)
            reads = layers[chain.layers[0]].opcode == OpCode.READ_INPUT  # not counted
            if (key in tried or not chain.layers[0] <= peak <= chain.layers[-1]
                    or len(key) - reads > MAX_CHAIN):
                continue
            tried.add(key)
            h = graph.tensors[layers[chain.layers[-1]].output].shape[1]
            for rows in (r for r in (1, 2, 4, 8, 16, 32, 64, 128, 256) if r < h):
                cand = split_rows(graph, layers, choices, chain, rows)
                if cand is None:
                    continue
                try:
                    arena = plan_arena(*cand, in_place=True)
                    validate_contents(cand[0], cand[1], arena)
                except ToolchainError:
                    continue
                need = best.arena_bytes if ram_budget is not None else best.arena_bytes * (1 - MIN_SAVING)
                if arena.arena_bytes > need or (ram_budget is None and arena.arena_bytes == best.arena_bytes):
                    continue
                if found is None or _better(arena, cand[1], found[1], found[0][1], ram_budget):
                    found = (cand, arena)
        if found is None:
            break
        (graph, layers, choices), best = found
    return graph, layers, choices, best


def _better(arena: ArenaPlan, layers: list[Layer], than: ArenaPlan, than_layers: list[Layer],
            ram_budget: int | None) -> bool:
    """Whether a rewrite beats another: within the budget, fewer layers; otherwise (or both
    over it) the smaller arena, then fewer layers."""
    if ram_budget is not None:
        fits, other_fits = arena.arena_bytes <= ram_budget, than.arena_bytes <= ram_budget
        if fits != other_fits:
            return fits
        if fits:
            return (len(layers), arena.arena_bytes) < (len(than_layers), than.arena_bytes)
    return (arena.arena_bytes, len(layers)) < (than.arena_bytes, len(than_layers))


def band_summary(layers: list[Layer]) -> list[dict]:
    """Per banded chain, for reports: its layers' short names (the Keras layer in the op's
    name: the path part before the last, before any ';'), its number of bands and the rows of its first band's last layer."""
    groups: list[dict] = []
    current = None
    for layer in layers:
        if " [rows " not in layer.name:
            if not layer.name.endswith(" moved up"):
                current = None
            continue
        name, rows = layer.name.rsplit(" [rows ", 1)
        if current is None or (name not in current["names"] and current["repeated"]):
            current = {"names": [], "repeated": False, "counts": {}, "rows": {}}
            groups.append(current)
        if name in current["names"]:
            current["repeated"] = True
        else:
            current["names"].append(name)
            a, b = rows.rstrip("]").split("-")
            current["rows"][name] = int(b) - int(a) + 1
        current["counts"][name] = current["counts"].get(name, 0) + 1
    def short(name: str) -> str:
        parts = name.split(";")[0].split("/")
        return parts[-2] if len(parts) >= 3 else parts[-1]

    return [{"layers": [short(n) for n in g["names"]],
             "bands": g["counts"][g["names"][-1]], "rows": g["rows"][g["names"][-1]]}
            for g in groups]


def describe_bands(groups: list[dict]) -> str:
    """band_summary as text: 'conv1, conv2, ADD in 4 bands of 8 rows' per chain, '; ' between
    chains, '' for none."""
    return "; ".join(f"{', '.join(g['layers'])} in {g['bands']} bands of {g['rows']} "
                     f"row{'s' if g['rows'] > 1 else ''}" for g in groups)
