"""Arena planning: every activation tensor gets an offset in one RAM buffer.

Lifetimes run from the op that writes a tensor to the last op that reads it (graph inputs
from the start, graph outputs to the end). RESHAPE outputs alias their input: the bytes are
the same. In place: a layer whose op may run in place (format.OpEntry.in_place, the runtime's
ES_OPF_IN_PLACE: each output element depends on the input element at its index, read before it
is written) writes its output exactly over its first input when that input (every view of its
bytes) is read by no later layer, is not a graph input (the caller's buffer stays intact) and
has the output's size; the two then share one buffer whose lifetime is both of theirs. That is
the only overlap an op allows: validate_arena refuses any other, and es_model_init checks the
same per layer. A layer's scratch buffer (im2col column, 2:4 pair table) lives during that layer
only. Offsets are placed greedily, largest buffer first, at the lowest 4-aligned offset
that overlaps no buffer alive at the same time (TFLM's greedy planner does the same).
Regions a layer keeps across inferences (a Huffman palette's decoded stream or decode table)
go above all of these, one after another (runtime_c checks that layout). Constant operands
(the second input of MUL / ADD) live in the blob, not here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    in_place: list[int] = field(default_factory=list)  # layers whose output lies over input[0]


def in_place_capable(graph: Graph, layer: Layer) -> bool:
    """Whether the layer's op may write its output exactly over its first input: an in-place
    op (format.OpEntry.in_place), an int8 first input that is not a constant, of the output's
    bytes, and not also its second input (the runtime refuses an output over input[1])."""
    if not layer.inputs or not layer.entry.in_place:
        return False
    x, y = graph.tensors[layer.inputs[0]], graph.tensors[layer.output]
    return (not x.is_constant and x.size_bytes == y.size_bytes and x.dtype == y.dtype == "int8"
            and layer.inputs[0] not in layer.inputs[1:])


def plan_arena(graph: Graph, layers: list[Layer], choices: list[Choice] | None = None,
               in_place: bool = True) -> ArenaPlan:
    """choices: the layers' formats, for their scratch buffers (None: no scratch). in_place:
    let in-place ops write over their dead input (False: every output gets its own buffer)."""
    alias: dict[int, int] = {}

    def root(t: int) -> int:
        while t in alias:
            t = alias[t]
        return t

    for layer in layers:
        if layer.opcode == OpCode.RESHAPE:
            alias[layer.output] = root(layer.inputs[0])

    last = len(layers) - 1
    span: dict[int, list[int]] = {}

    def touch(t: int, at: int) -> None:
        r = root(t)
        s = span.setdefault(r, [at, at])
        s[0], s[1] = min(s[0], at), max(s[1], at)

    for t in graph.inputs:
        touch(t, 0)
    def activations(layer: Layer) -> list[int]:
        return [t for t in [*layer.inputs, layer.output] if not graph.tensors[t].is_constant]

    for i, layer in enumerate(layers):
        for t in activations(layer):
            touch(t, i)
    for t in graph.outputs:
        touch(t, last)

    in_place_layers: list[int] = []
    if in_place:
        inputs = {root(t) for t in graph.inputs}
        for i, layer in enumerate(layers):
            if not in_place_capable(graph, layer):
                continue
            r_in, r_out = root(layer.inputs[0]), root(layer.output)
            if (r_in == r_out or r_in in inputs or span[r_in][1] != i or span[r_out][0] != i
                    or any(root(t) == r_in for t in layer.inputs[1:])):
                continue
            alias[r_out] = r_in
            span[r_in][1] = max(span[r_in][1], span.pop(r_out)[1])
            in_place_layers.append(i)

    sizes: dict[int, int] = {}
    for t in {t for layer in layers for t in activations(layer)} | set(span):
        r = root(t)
        sizes[r] = max(sizes.get(r, 0), align(graph.tensors[t].size_bytes))
    # scratch buffers under negative keys: -(layer index + 1)
    for i, choice in enumerate(choices or []):
        if choice.scratch_bytes:
            span[-(i + 1)] = [i, i]
            sizes[-(i + 1)] = align(choice.scratch_bytes)
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    offsets: dict[int, int] = {}
    for r in sorted(span, key=lambda r: (-sizes[r], span[r][0], r)):
        first, end = span[r]
        offset = 0
        for o, s, f, e in sorted(placed):
            if e < first or f > end:
                continue
            if offset + sizes[r] <= o:
                break
            offset = max(offset, o + s)
        offsets[r] = offset
        placed.append((offset, sizes[r], first, end))

    all_tensors = {t for layer in layers for t in activations(layer)}
    all_tensors |= set(graph.inputs) | set(graph.outputs)
    result_offsets = {t: offsets[root(t)] for t in all_tensors}
    result_sizes = {t: graph.tensors[t].size_bytes for t in all_tensors}
    lifetimes = {t: tuple(span[root(t)]) for t in all_tensors}
    arena = align(max((offsets[r] + sizes[r] for r in offsets), default=0))
    scratch = {-k - 1: (offsets[k], sizes[k]) for k in offsets if k < 0}
    kept = {}
    for i, choice in enumerate(choices or []):
        if choice.ram_bytes:
            kept[i] = (arena, align(choice.ram_bytes))
            arena += align(choice.ram_bytes)
    plan = ArenaPlan(result_offsets, result_sizes, lifetimes, align(arena, 8), scratch, kept,
                     in_place_layers)
    validate_arena(graph, layers, plan)
    return plan


def validate_arena(graph: Graph, layers: list[Layer], plan: ArenaPlan) -> None:
    """Raises ToolchainError, naming the layer, when two buffers alive at the same time share a
    byte in a way no op allows. Tensors are grouped into values (a tensor with the RESHAPE
    outputs that view its bytes) with the lifetime of all their views; two values may share
    bytes while both alive only when the later one is written at the last layer that reads the
    earlier, by an in-place op (in_place_capable), from that value as its first input, at the
    same offset and of the same bytes. Scratch buffers share bytes with nothing alive."""
    view: dict[int, int] = {}

    def value(t: int) -> int:
        while t in view:
            t = view[t]
        return t

    for layer in layers:
        if layer.opcode == OpCode.RESHAPE:
            view[layer.output] = value(layer.inputs[0])
    producer = {layer.output: i for i, layer in enumerate(layers)}
    last = len(layers) - 1
    life: dict[int, list[int]] = {}
    extent: dict[int, tuple[int, int]] = {}
    for t in plan.offsets:
        v = value(t)
        first = producer.get(t, 0)
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
            ok = (layer is not None and life[early][1] == i and in_place_capable(graph, layer)
                  and value(layer.inputs[0]) == early and extent[early] == extent[late]
                  and all(value(t) != early for t in layer.inputs[1:]))
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
