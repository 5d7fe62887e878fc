"""A two-layer model (MAX_POOL_2D 2x2 on 4x4x2, then RESHAPE to 8 bytes) built as an IR graph
and compiled through the real lowering, blob and codegen path, so target tests run the real
runtime without TensorFlow. Expected outputs are computed with numpy."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from toolchain.codegen.model import write_model_sources
from toolchain.encode.blob import build_blob
from toolchain.encode.format import OpCode
from toolchain.ir.graph import Graph, Op, Tensor
from toolchain.plan.arena import plan_arena
from toolchain.plan.lower import lower_graph
from toolchain.plan.select import choose_formats

NAME = "tiny_pool"
OUT_BYTES = 8


def _graph() -> Graph:
    def t(i, shape):
        return Tensor(i, f"t{i}", shape, "int8", np.array([0.5], np.float32), np.array([0]))

    tensors = [t(0, (1, 4, 4, 2)), t(1, (1, 2, 2, 2)), t(2, (1, 8))]
    ops = [Op(0, OpCode.MAX_POOL_2D, [0], [1], dict(padding="VALID", stride_h=2, stride_w=2,
                                                    filter_h=2, filter_w=2, activation="NONE")),
           Op(1, OpCode.RESHAPE, [1], [2])]
    return Graph(NAME, tensors, ops, [0], [2])


def _plan():
    graph = _graph()
    layers = lower_graph(graph)
    choices = choose_formats(layers)
    arena = plan_arena(graph, layers, choices)
    return graph, layers, choices, arena, build_blob(graph, layers, choices, arena)


def blob_bytes() -> bytes:
    return _plan()[-1].data


def write_sources(out_dir: Path) -> Path:
    write_model_sources(*_plan(), out_dir)
    return out_dir


def expected(x: np.ndarray) -> np.ndarray:
    x = x.reshape(-1, 2, 2, 2, 2, 2)  # N, oh, kh, ow, kw, c
    return x.max(axis=(2, 4)).reshape(x.shape[0], OUT_BYTES)


def inputs(n: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(n, 32), dtype=np.int16).astype(np.int8)
