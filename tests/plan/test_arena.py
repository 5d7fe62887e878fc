"""The arena planner: no two tensors alive at the same time share a byte."""
import numpy as np
import pytest

from toolchain.encode.format import OpCode
from toolchain.errors import ToolchainError
from toolchain.ir.graph import Graph, Tensor
from toolchain.plan.arena import ArenaPlan, plan_arena, validate_arena
from toolchain.plan.lower import Layer


def _tensor(i, n):
    return Tensor(i, f"t{i}", (1, n), "int8", np.ones(1, np.float32), np.zeros(1, np.int64))


def _check_no_overlap(plan, layers=()):
    """No two tensors alive at the same layer share a byte, but views of one value (a RESHAPE
    and its input: same offset and lifetime) and an in-place layer's output and its first
    input (plan.in_place; the layers are needed to name them)."""
    view = {l.output: l.inputs[0] for l in layers if l.opcode == OpCode.RESHAPE}

    def value(t):
        while t in view:
            t = view[t]
        return t

    in_place = {frozenset((value(layers[i].inputs[0]), value(layers[i].output))) for i in plan.in_place}
    ts = list(plan.offsets)
    for a in ts:
        assert plan.offsets[a] % 4 == 0
        assert plan.offsets[a] + plan.sizes[a] <= plan.arena_bytes
        for b in ts:
            if a >= b or plan.offsets[a] == plan.offsets[b] and plan.lifetimes[a] == plan.lifetimes[b]:
                continue  # aliases (reshape) share storage by design
            if frozenset((value(a), value(b))) in in_place:
                continue  # an in-place layer writes over its dead input (validate_arena checks how)
            la, lb = plan.lifetimes[a], plan.lifetimes[b]
            if la[1] < lb[0] or lb[1] < la[0]:
                continue
            a0, a1 = plan.offsets[a], plan.offsets[a] + plan.sizes[a]
            b0, b1 = plan.offsets[b], plan.offsets[b] + plan.sizes[b]
            assert a1 <= b0 or b1 <= a0, f"tensors {a} and {b} overlap while both alive"


def _random_dag(rng, n_layers):
    """A chain with random skip connections (ADD of an earlier tensor) and random sizes."""
    sizes = [int(rng.integers(1, 3000))]
    layers, produced = [], [0]
    for i in range(n_layers):
        out = len(sizes)
        x = produced[-1]
        same = [t for t in produced[:-1] if sizes[t] == sizes[x]]
        if same and rng.random() < 0.5:
            skip = same[int(rng.integers(0, len(same)))]
            sizes.append(sizes[x])
            layers.append(Layer(i, f"l{i}", OpCode.ADD, [x, skip], out, {}))
        elif rng.random() < 0.2:
            sizes.append(sizes[x])
            layers.append(Layer(i, f"l{i}", OpCode.RESHAPE, [x], out, {}))
        else:
            sizes.append(int(rng.choice([sizes[x], rng.integers(1, 3000)])))
            layers.append(Layer(i, f"l{i}", OpCode.FULLY_CONNECTED, [x], out, {}))
        produced.append(out)
    tensors = [_tensor(i, n) for i, n in enumerate(sizes)]
    return Graph("g", tensors, [], [0], [produced[-1]]), layers


@pytest.mark.parametrize("seed", range(30))
def test_random_graphs_never_overlap(seed):
    rng = np.random.default_rng(seed)
    graph, layers = _random_dag(rng, int(rng.integers(1, 25)))
    plan = plan_arena(graph, layers)
    _check_no_overlap(plan, layers)
    # a chain needs at most the sum of all tensors and at least its largest live pair
    assert plan.arena_bytes <= sum(((s + 3) // 4) * 4 for s in plan.sizes.values()) + 8


def test_chain_ping_pongs():
    sizes = [784, 300, 100, 10, 10]
    graph = Graph("mlp", [_tensor(i, n) for i, n in enumerate(sizes)], [], [0], [4])
    layers = [Layer(i, f"l{i}", OpCode.FULLY_CONNECTED, [i], i + 1, {}) for i in range(4)]
    plan = plan_arena(graph, layers)
    _check_no_overlap(plan, layers)
    assert plan.arena_bytes == 784 + 304  # the largest pair alive at once, 8-aligned


def _chain(sizes, ops):
    """Layer i reads tensor i and writes tensor i + 1 with ops[i]."""
    graph = Graph("g", [_tensor(i, n) for i, n in enumerate(sizes)], [], [0], [len(sizes) - 1])
    return graph, [Layer(i, f"l{i}", op, [i], i + 1, {}) for i, op in enumerate(ops)]


def test_element_wise_ops_write_over_their_dead_input():
    """FC 100 -> 600, LOGISTIC and SOFTMAX (600 -> 600 each), FC 600 -> 12: the element-wise
    ops run in place, so the arena is the first FC's 100 + 600 bytes (8-aligned), not the
    element-wise pairs' 600 + 600."""
    FC, LOG, SM = OpCode.FULLY_CONNECTED, OpCode.LOGISTIC, OpCode.SOFTMAX
    graph, layers = _chain([100, 600, 600, 600, 12], [FC, LOG, SM, FC])
    plan = plan_arena(graph, layers)
    assert plan.in_place == {1: 0, 2: 0}
    assert plan.offsets[1] == plan.offsets[2] == plan.offsets[3]
    assert plan.arena_bytes == 704
    off = plan_arena(graph, layers, in_place=False)
    assert off.in_place == {} and off.arena_bytes == 1200
    _check_no_overlap(off, layers)


def test_in_place_keeps_the_model_input_and_inputs_read_later():
    FC, RELU = OpCode.FULLY_CONNECTED, OpCode.RELU
    graph, layers = _chain([64, 64, 64], [RELU, FC])  # RELU reads the caller's input buffer
    assert plan_arena(graph, layers).in_place == {}
    # tensor 1 feeds RELU and, later, the ADD: RELU may not overwrite it
    tensors = [_tensor(i, 64) for i in range(4)]
    layers = [Layer(0, "fc", FC, [0], 1, {}), Layer(1, "relu", RELU, [1], 2, {}),
              Layer(2, "add", OpCode.ADD, [2, 1], 3, {})]
    plan = plan_arena(Graph("g", tensors, [], [0], [3]), layers)
    assert plan.in_place == {2: 0}  # only the ADD, over its first input (RELU's output), dead after it
    assert plan.offsets[3] == plan.offsets[2] != plan.offsets[1]


def test_validation_refuses_overlaps_no_op_allows():
    FC, LOG = OpCode.FULLY_CONNECTED, OpCode.LOGISTIC
    graph, layers = _chain([100, 64, 64, 8], [FC, LOG, FC])
    plan = plan_arena(graph, layers)
    assert plan.in_place == {1: 0}

    # LOGISTIC's output exactly over its input: allowed; 4 bytes off: refused
    validate_arena(graph, layers, plan)
    with pytest.raises(ToolchainError, match=r"layer 1 \(l1, LOGISTIC\).*'t2' over 't1'"):
        validate_arena(graph, layers, ArenaPlan({**plan.offsets, 2: plan.offsets[1] + 4},
                                                plan.sizes, plan.lifetimes, plan.arena_bytes))
    # a FULLY_CONNECTED output over its own input: refused, naming the layer
    with pytest.raises(ToolchainError, match=r"layer 2 \(l2, FULLY_CONNECTED\)"):
        validate_arena(graph, layers, ArenaPlan({**plan.offsets, 3: plan.offsets[2]}, plan.sizes,
                                                plan.lifetimes, plan.arena_bytes))
    # a scratch buffer over a tensor alive at its layer
    with pytest.raises(ToolchainError, match=r"layer 2 .*scratch buffer over 't2'"):
        validate_arena(graph, layers, ArenaPlan(plan.offsets, plan.sizes, plan.lifetimes,
                                                plan.arena_bytes, scratch={2: (plan.offsets[2], 8)}))
