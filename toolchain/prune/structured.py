"""Structured pruning: drop whole Dense units or Conv2D filters and rebuild a smaller dense model.

Removing output channel j of a layer removes input j of whatever consumes it, so the surgery
follows each pruned layer's output through layers that keep channels in place (pooling,
activations, dropout, BatchNormalization, DepthwiseConv2D with depth_multiplier 1, Flatten,
global pooling) to the Dense / Conv2D layers that consume it, and slices their kernels' input
dimension to match. A Flatten of an H x W x C map turns channel c into the inputs
p * C + c for every position p. A layer whose output reaches the model's outputs, or an op
that mixes channels of several inputs (Add, Concatenate, ...), or a Reshape, cannot be
pruned this way; `structural_blocker` says which and why.
"""
from __future__ import annotations

import numpy as np

from toolchain.errors import ToolchainError

# Layers whose output channel c is computed from input channel c alone.
CHANNEL_WISE = ("MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D",
                "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Activation", "ReLU", "LeakyReLU",
                "ELU", "PReLU", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                "ZeroPadding2D", "Cropping2D", "UpSampling2D", "BatchNormalization",
                "DepthwiseConv2D")


def unit_scores(kernel: np.ndarray, norm: str) -> np.ndarray:
    """Norm of each output unit's / filter's incoming weights (the kernel's last axis)."""
    k = np.asarray(kernel, dtype=np.float64).reshape(-1, np.shape(kernel)[-1])
    if norm == "l1":
        return np.abs(k).sum(axis=0)
    if norm == "l2":
        return np.sqrt((k * k).sum(axis=0))
    raise ToolchainError(f"norm {norm!r}: use l1 or l2")


def units_to_keep(kernel: np.ndarray, fraction: float, norm: str) -> np.ndarray:
    """Sorted indices of the units kept when round(fraction * units) of the lowest-norm ones
    are dropped; at least one unit stays."""
    scores = unit_scores(kernel, norm)
    n = len(scores)
    drop = min(n - 1, int(round(fraction * n)))
    order = np.argsort(scores, kind="stable")
    return np.sort(order[drop:])


def _graph(model):
    """(inbound: name -> [names], outputs: set of output layer names) for a functional or
    Sequential model."""
    import tf_keras as keras

    if isinstance(model, keras.Sequential):
        names = [layer.name for layer in model.layers]
        inbound = {n: ([names[i - 1]] if i else []) for i, n in enumerate(names)}
        return inbound, {names[-1]}
    cfg = model.get_config()
    inbound = {}
    for entry in cfg["layers"]:
        sources = []
        for node in entry.get("inbound_nodes", []):
            sources.extend(_node_sources(node))
        inbound[entry["name"]] = sources
    return inbound, {o[0] for o in cfg["output_layers"]}


def _node_sources(node) -> list[str]:
    if isinstance(node, dict):  # Keras 3 style config, not produced by tf_keras
        return [a["config"]["keras_history"][0] for a in node.get("args", []) if isinstance(a, dict)]
    return [item[0] for item in node]


def _propagate(model, keep: dict[str, np.ndarray]) -> dict[str, tuple]:
    """For each layer: (input index map, output index map) in original indices (None: all).

    Raises ToolchainError naming the layer where a shrunken output cannot go."""
    from toolchain.prune.config import layer_kind

    inbound, outputs = _graph(model)
    out_idx: dict[str, np.ndarray | None] = {}
    result = {}
    for layer in model.layers:
        name = layer.name
        sources = [s for s in inbound.get(name, [])]
        incoming = [out_idx.get(s) for s in sources]
        cls = type(layer).__name__
        if len(incoming) > 1 and any(i is not None for i in incoming):
            shrunk = next(s for s, i in zip(sources, incoming) if i is not None)
            raise ToolchainError(f"{shrunk}'s output reaches {cls} {name!r}, which combines several "
                                 "inputs; removing its channels would break the other branch")
        in_idx = incoming[0] if incoming else None
        kind = layer_kind(layer)
        if kind in ("Dense", "Conv2D"):
            out = keep.get(name)
        elif in_idx is None or cls in ("InputLayer",):
            out = None
        elif kind == "DepthwiseConv2D":
            if layer.depth_multiplier != 1:
                raise ToolchainError(f"removing channels feeding DepthwiseConv2D {name!r} needs "
                                     f"depth_multiplier 1, it has {layer.depth_multiplier}")
            out = in_idx
        elif cls == "BatchNormalization":
            axis = layer.axis if isinstance(layer.axis, int) else list(layer.axis)
            if axis not in (-1, len(layer.input_shape) - 1, [len(layer.input_shape) - 1]):
                raise ToolchainError(f"BatchNormalization {name!r} normalizes axis {axis}, not channels")
            out = in_idx
        elif cls == "Flatten":
            shape = layer.input_shape[1:]
            if len(shape) <= 1:
                out = in_idx
            else:
                channels = int(shape[-1])
                positions = int(np.prod(shape[:-1]))
                out = (np.arange(positions)[:, None] * channels + in_idx[None, :]).ravel()
        elif cls in CHANNEL_WISE:
            out = in_idx
        else:
            raise ToolchainError(f"{cls} {name!r} consumes pruned channels and is not channel-wise; "
                                 "units or filters feeding it cannot be removed")
        if name in outputs and out is not None:
            raise ToolchainError(f"{name!r} produces a model output, whose width is fixed")
        out_idx[name] = out
        result[name] = (in_idx, out)
    return result


def structural_blocker(model, name: str) -> str | None:
    """Why the units / filters of layer `name` cannot be removed, or None if they can."""
    layer = model.get_layer(name)
    width = int(layer.kernel.shape[-1])
    if width < 2:
        return f"{name!r} has a single unit"
    try:
        _propagate(model, {name: np.arange(width - 1)})
    except ToolchainError as e:
        return str(e)
    return None


def shrink_model(model, keep: dict[str, np.ndarray]):
    """A new, smaller keras.Model: layer L in `keep` keeps only output units keep[L] (sorted
    original indices); every consumer's inputs shrink to match. Weights are copied, so the
    result computes exactly what `model` computes on the kept units."""
    import tf_keras as keras

    from toolchain.prune.config import layer_kind

    maps = _propagate(model, keep)

    def clone(layer):
        cfg = layer.get_config()
        if layer.name in keep:
            cfg["units" if layer_kind(layer) == "Dense" else "filters"] = int(len(keep[layer.name]))
        return layer.__class__.from_config(cfg)

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        in_idx, out = maps[layer.name]
        kind = layer_kind(layer)
        cls = type(layer).__name__
        if kind in ("Dense", "Conv2D"):
            kernel = weights[0]
            if in_idx is not None:
                kernel = np.take(kernel, in_idx, axis=-2)
            if layer.name in keep:
                kernel = np.take(kernel, keep[layer.name], axis=-1)
                rest = [np.take(w, keep[layer.name], axis=-1) for w in weights[1:]]
            else:
                rest = weights[1:]
            weights = [kernel, *rest]
        elif in_idx is not None and (kind == "DepthwiseConv2D" or cls == "BatchNormalization"):
            axis = 2 if kind == "DepthwiseConv2D" else -1
            weights = [np.take(weights[0], in_idx, axis=axis),
                       *[np.take(w, in_idx, axis=-1) for w in weights[1:]]]
        elif in_idx is not None and cls == "PReLU":
            weights = [np.take(w, in_idx, axis=-1) for w in weights]
        new.get_layer(layer.name).set_weights(weights)
    return new
