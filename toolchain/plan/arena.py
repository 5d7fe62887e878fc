"""Arena planning: every activation tensor gets an offset in one RAM buffer.

Lifetimes run from the op that writes a tensor to the last op that reads it (graph inputs
from the start, graph outputs to the end). RESHAPE outputs alias their input: the bytes are
the same. A layer's scratch buffer (im2col column, 2:4 pair table) lives during that layer
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


def plan_arena(graph: Graph, layers: list[Layer], choices: list[Choice] | None = None) -> ArenaPlan:
    """choices: the layers' formats, for their scratch buffers (None: no scratch)."""
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
    return ArenaPlan(result_offsets, result_sizes, lifetimes, align(arena, 8), scratch, kept)
