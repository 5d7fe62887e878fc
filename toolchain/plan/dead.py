"""Dead and unread neurons between FULLY_CONNECTED layers, removed at compile time.

Between two FULLY_CONNECTED layers L -> N (N the only reader of L's output, batch 1), an
output neuron r of L can go when
  - its row of L's weights is all zero (dead): its output is the same int8 value c_r for every
    input, the requantized bias, so N's folded bias takes w_N[i, r] * c_r for good, or
  - its column of N's weights is all zero (unread): nothing reads it.
Both are exact in integer arithmetic: N accumulates sum_j w_N[i, j] * x_j + bias_i, and the
removed terms are constants (or zero), so every output byte stays what TFLite computes. Heavy
pruning leaves many such neurons (LeNet-5's 800x500 fc1 at 99%: 150 dead rows, and its logits
read 394 of the 500 outputs), and each costs a bias, a row count and often N's weights on it.
The pass repeats until nothing changes: a row of N whose only weights read dead neurons is
itself dead once they go. It leaves a pair alone when N's bias would leave the int32 range, or
when the pair's fastest or smallest formats (estimated for `isa`) would be worse together:
N:M groups and 1x4 blocks run along N's columns, so removing some can cost N its format (a
multiple of four of them is tried then, which keeps 1x4 blocks).

The layer keeps the shape the model gave it (Layer.dense_shape), so reports count parameters
and sparsity against the model the user trained.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from toolchain.enums import OpCode
from toolchain.ir.graph import Graph
from toolchain.isa import Isa
from toolchain.plan import costs
from toolchain.plan.lower import Layer
from toolchain.plan.select import _table_bytes, applicable_formats
from toolchain.quantize.lut import multiply_by_quantized_multiplier


def _fc(layer: Layer) -> bool:
    return (layer.opcode == OpCode.FULLY_CONNECTED and layer.weights is not None
            and layer.shares is None and int(layer.params.get("batches", 1)) == 1)


def _best(layer: Layer, isa: Isa) -> tuple[int, int]:
    """(fewest estimated instructions, fewest table bytes) over the layer's formats."""
    names = applicable_formats(layer, "init")
    return (min(costs.estimate(layer, n, isa, 0) for n in names),
            min(_table_bytes(layer, n) for n in names))


def _no_worse(new: tuple[Layer, Layer], old: tuple[Layer, Layer], isa: Isa) -> bool:
    """The pair's fastest formats take no more instructions, its smallest no more bytes."""
    a = [_best(layer, isa) for layer in new]
    b = [_best(layer, isa) for layer in old]
    return a[0][0] + a[1][0] <= b[0][0] + b[1][0] and a[0][1] + a[1][1] <= b[0][1] + b[1][1]


def constant_outputs(layer: Layer, rows: np.ndarray) -> np.ndarray:
    """The int8 outputs of FULLY_CONNECTED rows without weights: requantized bias, clamped."""
    p = layer.params
    out = []
    for r in rows:
        m = layer.mult[r if layer.mult.size > 1 else 0]
        s = layer.shift[r if layer.shift.size > 1 else 0]
        v = multiply_by_quantized_multiplier(int(layer.bias[r]), int(m), int(s))
        out.append(min(max(v + int(p["output_zero_point"]), int(p["act_min"])), int(p["act_max"])))
    return np.array(out, dtype=np.int64)


def _rows(layer: Layer, keep: np.ndarray) -> Layer:
    per_row = layer.weights.shape[0]
    return dataclasses.replace(
        layer, weights=np.ascontiguousarray(layer.weights[keep]), bias=layer.bias[keep],
        mult=layer.mult[keep] if layer.mult.size == per_row else layer.mult,
        shift=layer.shift[keep] if layer.shift.size == per_row else layer.shift,
        params={**layer.params, "out_features": int(keep.sum())},
        dense_shape=layer.dense_shape or layer.weights.shape)


def _candidates(drop: np.ndarray):
    """The outputs to remove: all that can go, then (when that costs a format) a multiple of
    four of them, so the reader keeps its column count modulo 4 (1x4 blocks need it)."""
    if drop.any():
        yield drop
    n = int(drop.sum())
    if n >= 4 and n % 4:
        fewer = drop.copy()
        fewer[np.flatnonzero(drop)[4 * (n // 4):]] = False
        yield fewer


def _remove(lay: Layer, nxt: Layer, dead: np.ndarray, drop: np.ndarray,
            isa: Isa) -> tuple[Layer, Layer] | None:
    """lay without its outputs `drop`, and nxt without the columns reading them (constants
    folded into its bias); None when nxt's bias would overflow int32 or the two layers'
    fastest or smallest formats would be worse together."""
    folded = np.flatnonzero(drop & dead)
    consts = constant_outputs(lay, folded)
    bias = nxt.bias.astype(np.int64) + nxt.weights[:, folded].astype(np.int64) @ consts
    if bias.min() < -2**31 or bias.max() >= 2**31:
        return None
    keep = ~drop
    new_l = _rows(lay, keep)
    new_n = dataclasses.replace(
        nxt, weights=np.ascontiguousarray(nxt.weights[:, keep]), bias=bias.astype(np.int32),
        params={**nxt.params, "in_features": int(keep.sum())},
        dense_shape=nxt.dense_shape or nxt.weights.shape)
    if not _no_worse((new_l, new_n), (lay, nxt), isa):
        return None  # a structured format (N:M groups, 1x4 blocks) that paid no longer fits
    return new_l, new_n


def remove_dead_neurons(graph: Graph, layers: list[Layer],
                        isa: Isa = Isa.DSP) -> tuple[Graph, list[Layer], dict[str, int]]:
    """The graph and layers without dead or unread FULLY_CONNECTED neurons (module doc), and
    how many outputs each changed layer lost, by layer name. Unchanged inputs come back as they
    were (same objects)."""
    removed: dict[str, int] = {}
    tensors = list(graph.tensors)
    layers = list(layers)
    changed = True
    while changed:
        changed = False
        for i, lay in enumerate(layers):
            t = lay.output
            if not _fc(lay) or t in graph.outputs:
                continue
            readers = [j for j, other in enumerate(layers) if t in other.inputs]
            if len(readers) != 1 or not _fc(layers[readers[0]]) or layers[readers[0]].inputs[0] != t:
                continue
            j = readers[0]
            nxt = layers[j]
            shape = tensors[t].shape
            if len(shape) != 2 or shape[0] != 1 or shape[1] != lay.weights.shape[0]:
                continue
            dead = ~lay.weights.any(axis=1)
            drop = dead | ~nxt.weights.any(axis=0)
            if drop.all():
                drop[np.flatnonzero(drop)[0]] = False  # a tensor keeps at least one value
            for candidate in _candidates(drop):
                done = _remove(lay, nxt, dead, candidate, isa)
                if done is not None:
                    break
            else:
                continue
            layers[i], layers[j] = done
            tensors[t] = dataclasses.replace(tensors[t], shape=(1, int((~candidate).sum())))
            removed[lay.name] = removed.get(lay.name, 0) + int(candidate.sum())
            changed = True
    if not removed:
        return graph, layers, removed
    return dataclasses.replace(graph, tensors=tensors), layers, removed
