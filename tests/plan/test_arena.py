"""The arena planner: no two tensors alive at the same time share a byte."""
import numpy as np
import pytest

from toolchain.encode.format import OpCode
from toolchain.ir.graph import Graph, Tensor
from toolchain.plan.arena import plan_arena
from toolchain.plan.lower import Layer


def _tensor(i, n):
    return Tensor(i, f"t{i}", (1, n), "int8", np.ones(1, np.float32), np.zeros(1, np.int64))


def _check_no_overlap(plan):
    ts = list(plan.offsets)
    for a in ts:
        assert plan.offsets[a] % 4 == 0
        assert plan.offsets[a] + plan.sizes[a] <= plan.arena_bytes
        for b in ts:
            if a >= b or plan.offsets[a] == plan.offsets[b] and plan.lifetimes[a] == plan.lifetimes[b]:
                continue  # aliases (reshape) share storage by design
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
    _check_no_overlap(plan)
    # a chain needs at most the sum of all tensors and at least its largest live pair
    assert plan.arena_bytes <= sum(((s + 3) // 4) * 4 for s in plan.sizes.values()) + 8


def test_chain_ping_pongs():
    sizes = [784, 300, 100, 10, 10]
    graph = Graph("mlp", [_tensor(i, n) for i, n in enumerate(sizes)], [], [0], [4])
    layers = [Layer(i, f"l{i}", OpCode.FULLY_CONNECTED, [i], i + 1, {}) for i in range(4)]
    plan = plan_arena(graph, layers)
    _check_no_overlap(plan)
    assert plan.arena_bytes == 784 + 304  # the largest pair alive at once, 8-aligned
