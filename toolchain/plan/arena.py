"""Arena planning: every activation tensor gets an offset in one RAM buffer.

Lifetimes run from the op that writes a tensor to the last op that reads it (graph inputs
from the start, graph outputs to the end). RESHAPE outputs alias their input: the bytes are
the same. In place: a layer whose op may run in place (format.OpEntry.in_place, the runtime's
ES_OPF_IN_PLACE: each output element depends on the input element at its index, read before it
is written) writes its output exactly over its first input when that input (every view of its
bytes) is read by no later layer, is not a graph input (the caller's buffer stays intact) and
has the output's size; the two then share one buffer whose lifetime is both of theirs. A
windowed op (conv, depthwise conv, max / average pooling: format.OpEntry.in_place_below) computed
output pixel after output pixel may likewise write its output starting window_lag_bytes below its
dead input (about one input row plus a pixel for a 3x3 window at stride 1): the buffer is the
input's bytes plus that lag instead of both tensors'. Those are the only overlaps an op allows:
validate_arena refuses any other, and es_model_init checks the same per layer. A layer's
scratch buffer (im2col column, 2:4 pair table) lives during that layer only. Offsets are placed greedily, largest buffer first, at the lowest 4-aligned offset
that overlaps no buffer alive at the same time (TFLM's greedy planner does the same).
Regions a layer keeps across inferences (a Huffman palette's decoded stream or decode table)
go above all of these, one after another (runtime_c checks that layout). Constant operands
(the second input of MUL / ADD) live in the blob, not here, and a streamed input (stream.py) in
the application: only the rows its READ_INPUT layers fetch take arena bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.encode import format as fmt
from toolchain.encode import weight_formats as wf
from toolchain.encode.format import align
from toolchain.enums import OpCode
from toolchain.errors import ToolchainError
from toolchain.ir.graph import Graph
from toolchain.plan.lower import Layer
from toolchain.plan.select import Choice


@dataclass
class ArenaPlan:
    offsets: dict[int, int]  # graph tensor index -> byte offset
    sizes: dict[int, int]  # graph tensor index -> bytes
    lifetimes: dict[int, tuple[int, int]]  # graph tensor index -> (first, last) layer index
    arena_bytes: int
    scratch: dict[int, tuple[int, int]] = field(default_factory=dict)  # layer -> (offset, bytes)
    kept: dict[int, tuple[int, int]] = field(default_factory=dict)  # layer -> (offset, bytes)
    # layers whose output overlaps their input[0] -> bytes the output starts below it (0: over it)
    in_place: dict[int, int] = field(default_factory=dict)


def reshape_aliases(graph: Graph, layers: list[Layer]) -> dict[int, int]:
    """RESHAPE output -> its input, for the RESHAPEs the planner aliases (the same bytes); a
    RESHAPE writing a row band's view (bands.py) is a real copy and not among them."""
    return {layer.output: layer.inputs[0] for layer in layers
            if layer.opcode == OpCode.RESHAPE and graph.tensors[layer.output].view_of is None}


def window_lag_bytes(in_w: int, in_c: int, out_h: int, out_w: int, out_c: int, stride_h: int,
                     stride_w: int, pad_top: int, pad_left: int) -> int:
    """The fewest bytes (a multiple of 4) the output of a windowed op (conv, depthwise conv, pooling;
    computed output pixel after output pixel, each pixel written after its window was read)
    must start below its input so that no input byte is overwritten while a window still to
    come reads it: the maximum over pixels q of (q + 1) * out_c minus in_c times the earliest
    input pixel a window from q on starts at (its row max(0, oy * stride_h - pad_top), its
    column max(0, ox * stride_w - pad_left)). The runtime computes the same
    (es_window_lag_bytes) to check a plan."""
    oy = np.arange(out_h, dtype=np.int64)[:, None]
    ox = np.arange(out_w, dtype=np.int64)[None, :]
    start = (np.maximum(oy * stride_h - pad_top, 0) * in_w + np.maximum(ox * stride_w - pad_left, 0))
    start = start.ravel()
    first = np.minimum.accumulate(start[::-1])[::-1]  # earliest start from pixel q on
    need = (np.arange(1, start.size + 1, dtype=np.int64) * out_c - first * in_c).max(initial=0)
    return align(int(max(need, 0)))


def _entry(layer: Layer, choice: Choice | None) -> fmt.OpEntry:
    """The kernel the layer runs on with its chosen format (a depthwise layer in CSR16 runs
    the sparse kernel, which may not run in place); the layer's own without a choice."""
    if choice is None or layer.weights is None:
        return layer.entry
    return fmt.OP_ENTRIES[(layer.opcode, layer.variant_for(wf.parse(choice.format)[0].id))]


def in_place_lag(graph: Graph, layer: Layer, choice: Choice | None = None) -> int | None:
    """How far the layer's output may overlap its first input: 0 when it may lie exactly over
    it (an element-wise op, format.OpEntry.in_place, of the input's bytes), the bytes it must
    start below it for a windowed op (OpEntry.in_place_below; window_lag_bytes), None when it
    may not overlap it at all. The input must be an int8 activation, not also the layer's
    second input (the runtime refuses an output over input[1]). choice: the layer's format
    choice, which decides its kernel (_entry)."""
    entry = _entry(layer, choice)
    if not layer.inputs or not (entry.in_place or entry.in_place_below or entry.in_place_channels):
        return None
    x, y = graph.tensors[layer.inputs[0]], graph.tensors[layer.output]
    if x.is_constant or x.dtype != "int8" or y.dtype != "int8" or layer.inputs[0] in layer.inputs[1:]:
        return None
    if entry.in_place:
        return 0 if x.size_bytes == y.size_bytes else None
    p = layer.params
    if entry.in_place_channels:  # exactly over the input, never below it
        return 0 if p["out_c"] == p["in_c"] and y.size_bytes <= x.size_bytes else None
    in_c, out_c = p.get("in_c", p.get("channels")), p.get("out_c", p.get("channels"))
    return window_lag_bytes(p["in_w"], in_c, p["out_h"], p["out_w"], out_c, p["stride_h"],
                            p["stride_w"], p["pad_top"], p["pad_left"])


def in_place_capable(graph: Graph, layer: Layer) -> bool:
    """Whether the layer's output may overlap its first input at all (in_place_lag)."""
    return in_place_lag(graph, layer) is not None


def plan_arena(graph: Graph, layers: list[Layer], choices: list[Choice] | None = None,
               in_place: bool = True) -> ArenaPlan:
    """choices: the layers' formats, for their scratch buffers (None: no scratch). in_place:
    let ops write over their dead input where that does not make the arena larger (False:
    every output gets its own buffer). A merged buffer lives longer than either tensor and a
    windowed op's is larger than its input, which can make the greedy placement worse, while
    some merges only pay together (a depthwise and the pointwise conv after it), so two
    searches run and the smaller arena wins: candidates added in layer order, each kept when
    the arena does not grow with it; and all candidates, each dropped in layer order when the
    arena shrinks without it. None of them at all is the starting point of the first."""
    # a row band (bands.py) writes a view of a buffer: never over its input
    lags = {i: lag for i, layer in enumerate(layers)
            if in_place and graph.tensors[layer.output].view_of is None
            and (lag := in_place_lag(graph, layer, choices[i] if choices else None)) is not None}
    allowed: dict[int, int] = {}
    best = _plan(graph, layers, choices, allowed)
    for i, lag in lags.items():
        trial = _plan(graph, layers, choices, {**allowed, i: lag})
        if i in trial.in_place and trial.arena_bytes <= best.arena_bytes:
            allowed[i], best = lag, trial
    if lags:
        allowed = dict(lags)
        every = _plan(graph, layers, choices, allowed)
        for i in lags:
            trial = _plan(graph, layers, choices, {k: v for k, v in allowed.items() if k != i})
            if trial.arena_bytes < every.arena_bytes:
                del allowed[i]
                every = trial
        if every.arena_bytes < best.arena_bytes:
            best = every
    validate_arena(graph, layers, best, choices)
    return best


def _plan(graph: Graph, layers: list[Layer], choices: list[Choice] | None,
          allowed: dict[int, int]) -> ArenaPlan:
    """The plan with the layers of `allowed` (layer -> lag) written over their input where
    their input is dead after them."""
    # tensor -> (tensor it is placed relative to, byte offset from it): RESHAPE views at 0,
    # in-place outputs at 0 or below their input by the op's lag
    parent: dict[int, tuple[int, int]] = {}

    def root(t: int) -> int:
        while t in parent:
            t = parent[t][0]
        return t

    def delta(t: int) -> int:
        d = 0
        while t in parent:
            t, step = parent[t]
            d += step
        return d

    view: dict[int, int] = {}  # RESHAPE output -> its input: the same bytes, one value

    def value(t: int) -> int:
        while t in view:
            t = view[t]
        return t

    for out, x in reshape_aliases(graph, layers).items():
        parent[out] = (x, 0)
        view[out] = x
    # row bands (bands.py): views at their byte offset in their buffer, one value with it
    for t, tensor in enumerate(graph.tensors):
        if tensor.view_of is not None:
            parent[t] = tensor.view_of
            view[t] = tensor.view_of[0]

    last = len(layers) - 1
    span: dict[int, list[int]] = {}  # block (root) -> the layers it is alive through
    life: dict[int, list[int]] = {}  # value -> the layers it is alive through

    def touch(t: int, at: int) -> None:
        for key, d in ((root(t), span), (value(t), life)):
            s = d.setdefault(key, [at, at])
            s[0], s[1] = min(s[0], at), max(s[1], at)

    # a streamed input (stream.py) is not in the arena: READ_INPUT layers fetch its rows
    for t in graph.inputs:
        if not graph.tensors[t].streamed:
            touch(t, 0)

    def activations(layer: Layer) -> list[int]:
        return [t for t in [*layer.inputs, layer.output]
                if not graph.tensors[t].is_constant and not graph.tensors[t].streamed]

    for i, layer in enumerate(layers):
        for t in activations(layer):
            touch(t, i)
    for t in graph.outputs:
        touch(t, last)

    in_place_layers: dict[int, int] = {}
    inputs = {root(t) for t in graph.inputs if not graph.tensors[t].streamed}
    for i, lag in sorted(allowed.items()):
        layer = layers[i]
        r_in, r_out = root(layer.inputs[0]), root(layer.output)
        if (r_in == r_out or r_in in inputs or span[r_in][1] != i or span[r_out][0] != i
                or r_out != layer.output or any(root(t) == r_in for t in layer.inputs[1:])):
            continue
        parent[r_out] = (layer.inputs[0], -lag)
        span[r_in][1] = max(span[r_in][1], span.pop(r_out)[1])
        in_place_layers[i] = lag

    all_tensors = {t for layer in layers for t in activations(layer)}
    all_tensors |= {t for t in graph.inputs if not graph.tensors[t].streamed} | set(graph.outputs)
    nbytes = {t: align(graph.tensors[t].size_bytes) for t in all_tensors | set(span)}
    # each root's block: from its lowest member's start to its highest member's end
    low: dict[int, int] = {}
    high: dict[int, int] = {}
    for t in all_tensors | set(span):
        r, d = root(t), delta(t)
        low[r] = min(low.get(r, 0), d)
        high[r] = max(high.get(r, 0), d + nbytes[t])
    sizes = {r: high[r] - low[r] for r in low}
    # a block's pieces: each value in it (a tensor with its RESHAPE views) at its bytes within
    # the block, alive through its own layers only, so another buffer may take bytes of an
    # in-place chain while the value there is not alive (a pointwise conv's larger output need
    # not exist while the layers before it run)
    pieces: dict[int, dict[int, list[int]]] = {}  # block -> value -> [start, end, first, last]
    for t in all_tensors:
        r, v = root(t), value(t)
        at = delta(t) - low[r]
        p = pieces.setdefault(r, {}).setdefault(v, [at, at + nbytes[t], *life[v]])
        p[0], p[1] = min(p[0], at), max(p[1], at + nbytes[t])
    # scratch buffers under negative keys: -(layer index + 1)
    for i, choice in enumerate(choices or []):
        if choice.scratch_bytes:
            span[-(i + 1)] = [i, i]
            sizes[-(i + 1)] = align(choice.scratch_bytes)
            low[-(i + 1)] = 0
            pieces[-(i + 1)] = {-(i + 1): [0, sizes[-(i + 1)], i, i]}
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last) of placed pieces
    offsets: dict[int, int] = {}  # block -> its first byte
    for r in sorted(span, key=lambda r: (-sizes[r], span[r][0], r)):
        # the offsets no piece of the block may start at: open intervals, lowest free one wins
        banned = sorted((o - end, e - start)
                        for start, end, first, last in pieces[r].values()
                        for o, e, f, l_ in placed if not (l_ < first or f > last))
        offset = 0
        for lo_, hi_ in banned:
            if lo_ >= offset:
                break
            offset = max(offset, hi_)
        offsets[r] = offset
        placed += [(offset + start, offset + end, first, last) for start, end, first, last in pieces[r].values()]

    result_offsets = {t: offsets[root(t)] - low[root(t)] + delta(t) for t in all_tensors}
    result_sizes = {t: graph.tensors[t].size_bytes for t in all_tensors}
    lifetimes = {t: tuple(life[value(t)]) for t in all_tensors}
    arena = align(max((offsets[r] + sizes[r] for r in offsets), default=0))
    scratch = {-k - 1: (offsets[k], sizes[k]) for k in offsets if k < 0}
    kept = {}
    for i, choice in enumerate(choices or []):
        if choice.ram_bytes:
            kept[i] = (arena, align(choice.ram_bytes))
            arena += align(choice.ram_bytes)
    return ArenaPlan(result_offsets, result_sizes, lifetimes, align(arena, 8), scratch, kept,
                     in_place_layers)


def validate_arena(graph: Graph, layers: list[Layer], plan: ArenaPlan,
                   choices: list[Choice] | None = None) -> None:
    """Raises ToolchainError, naming the layer, when two buffers alive at the same time share a
    byte in a way no op allows. Tensors are grouped into values (a tensor with the RESHAPE
    outputs that view its bytes) with the lifetime of all their views; two values may share
    bytes while both alive only when the later one is written at the last layer that reads the
    earlier, by an op that may overlap its input (in_place_lag), from that value as its first
    input: an element-wise op at the same offset and of the same bytes, a windowed op starting
    at least its lag below it. Scratch buffers share bytes with nothing alive. choices: the
    layers' formats, which decide their kernels (None: each layer's own)."""
    view: dict[int, int] = {}

    def value(t: int) -> int:
        while t in view:
            t = view[t]
        return t

    for out, x in reshape_aliases(graph, layers).items():
        view[out] = value(x)
    for t, tensor in enumerate(graph.tensors):
        if tensor.view_of is not None:
            view[t] = tensor.view_of[0]
    producer = {layer.output: i for i, layer in enumerate(layers)}
    readers: dict[int, list[int]] = {}
    for i, layer in enumerate(layers):
        for t in layer.inputs:
            readers.setdefault(t, []).append(i)
    last = len(layers) - 1
    life: dict[int, list[int]] = {}
    extent: dict[int, tuple[int, int]] = {}
    for t in plan.offsets:
        v = value(t)
        # a row band only read (a view of the bands' input) lives from its first reader
        first = producer.get(t, 0 if t in graph.inputs or t not in readers else min(readers[t]))
        end = max([i for i, layer in enumerate(layers) if t in layer.inputs] + [first] +
                  ([last] if t in graph.outputs else []))
        span = life.setdefault(v, [first, end])
        span[0], span[1] = min(span[0], first), max(span[1], end)
        o, n = plan.offsets[t], plan.sizes[t]
        lo, hi = extent.get(v, (o, o + n))
        extent[v] = (min(lo, o), max(hi, o + n))
    values = sorted(life)

    def fail(i: int, what: str) -> None:
        layer = layers[i]
        raise ToolchainError(f"layer {i} ({layer.name}, {layer.opcode.name}): the arena plan puts "
                             f"{what}; the runtime would refuse it (ES_ERR_TENSOR_BOUNDS)")

    for a_i, a in enumerate(values):
        for b in values[a_i + 1:]:
            (a0, a1), (b0, b1) = extent[a], extent[b]
            if a1 <= b0 or b1 <= a0:
                continue
            (fa, ea), (fb, eb) = life[a], life[b]
            if ea < fb or eb < fa:
                continue
            early, late = (a, b) if (fa, a) <= (fb, b) else (b, a)
            i = life[late][0]
            layer = layers[i] if late in producer and producer[late] == i else None
            choice = choices[i] if choices and layer is not None else None
            lag = None if layer is None else in_place_lag(graph, layer, choice)
            ok = (lag is not None and life[early][1] == i and value(layer.inputs[0]) == early
                  and all(value(t) != early for t in layer.inputs[1:])
                  and (extent[early] == extent[late] if _entry(layer, choice).in_place else
                       extent[late][0] == extent[early][0]
                       if _entry(layer, choice).in_place_channels else
                       extent[late][0] + lag <= extent[early][0]))
            if not ok:
                at = producer.get(late, 0)
                fail(at, f"'{graph.tensors[late].name}' over '{graph.tensors[early].name}' "
                         f"(bytes {extent[late][0]}..{extent[late][1]} and "
                         f"{extent[early][0]}..{extent[early][1]}) while both are alive")
    for i, (offset, size) in plan.scratch.items():
        for v in values:
            (lo, hi), (f, e) = extent[v], life[v]
            if f <= i <= e and lo < offset + size and offset < hi:
                fail(i, f"its scratch buffer over '{graph.tensors[v].name}', alive at that layer")


def peak_layer(graph: Graph, layers: list[Layer], plan: ArenaPlan) -> tuple[int, str]:
    """(the first layer whose live buffers reach the arena's top, what they are: "tensors 'a'
    (N bytes), 'b' (M bytes), scratch (K bytes)"), for messages about a budget that does not fit.
    Buffers kept across inferences count at every layer."""
    top = plan.arena_bytes

    def base(t: int) -> tuple[int, int]:
        """A row band's buffer (bands.py) and its offset, or the tensor itself."""
        at = plan.offsets[t]
        while graph.tensors[t].view_of is not None:
            t, d = graph.tensors[t].view_of
            at -= d
        return t, at

    best = (-1, 0, "")
    for i in range(len(layers)):
        parts, reach = [], 0
        seen = set()
        for t, (first, last) in plan.lifetimes.items():
            b, at = base(t)
            size = plan.sizes.get(b, graph.tensors[b].size_bytes)
            key = (at, plan.lifetimes[t])
            if first <= i <= last and key not in seen:
                seen.add(key)
                reach = max(reach, plan.offsets[t] + plan.sizes[t], at + size)
                parts.append(f"'{graph.tensors[b].name}' ({size:,} bytes)")
        if i in plan.scratch:
            offset, size = plan.scratch[i]
            reach = max(reach, offset + size)
            parts.append(f"its scratch ({size:,} bytes)")
        for offset, size in plan.kept.values():
            reach = max(reach, offset + size)
        if plan.kept:
            parts.append(f"kept tables ({sum(s for _, s in plan.kept.values()):,} bytes)")
        if align(reach, 8) >= top:
            return i, ", ".join(parts)
        if reach > best[1]:
            best = (i, reach, ", ".join(parts))
    return best[0], best[2]


def validate_contents(graph: Graph, layers: list[Layer], plan: ArenaPlan) -> None:
    """Follows every arena byte through one inference: each layer must find in its inputs' bytes
    what they are meant to hold (a row band's bytes: the rows of the tensor it is a band of,
    Tensor.holds; a RESHAPE's aliased output: its input's), and the graph's outputs must hold
    theirs at the end. Raises ToolchainError naming the first layer that would read bytes an
    earlier layer overwrote. A layer reads its inputs before it writes its output (what the ops
    that may run in place guarantee, validate_arena) and its scratch holds nothing afterwards."""
    alias = reshape_aliases(graph, layers)

    def holds(t: int) -> np.ndarray:
        while t in alias:
            t = alias[t]
        tensor = graph.tensors[t]
        src, at = tensor.holds if tensor.holds is not None else (t, 0)
        return (np.int64(src) << 32) + at + np.arange(plan.sizes[t], dtype=np.int64)

    content = np.full(plan.arena_bytes, -1, dtype=np.int64)

    def region(t: int) -> slice:
        return slice(plan.offsets[t], plan.offsets[t] + plan.sizes[t])

    for t in graph.inputs:
        if not graph.tensors[t].streamed:
            content[region(t)] = holds(t)
    for i, layer in enumerate(layers):
        for t in layer.inputs:
            if graph.tensors[t].is_constant or graph.tensors[t].streamed:
                continue
            wrong = np.flatnonzero(content[region(t)] != holds(t))
            if wrong.size:
                raise ToolchainError(
                    f"layer {i} ({layer.name}, {layer.opcode.name}): the arena plan lets an earlier "
                    f"layer overwrite bytes {plan.offsets[t] + int(wrong[0])}.. of its input "
                    f"'{graph.tensors[t].name}' before it reads them")
        if i in plan.scratch:
            offset, size = plan.scratch[i]
            content[offset:offset + size] = -1
        content[region(layer.output)] = holds(layer.output)
    for t in graph.outputs:
        if np.any(content[region(t)] != holds(t)):
            raise ToolchainError(f"the arena plan overwrites output '{graph.tensors[t].name}' "
                                 "after it is written")
