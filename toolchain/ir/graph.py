"""The toolchain's own graph IR: what a .tflite model says, normalised and checked."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from toolchain.enums import OpCode

_ITEMSIZE = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float32": 4, "int64": 8}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "int8", "int32", "float32", ...
    scale: np.ndarray  # float32, one per channel or a single value; empty if unquantized
    zero_point: np.ndarray  # int64, same length as scale
    quant_axis: int = 0
    data: np.ndarray | None = None  # constant contents, shaped; None for activations
    # a row band of another activation's bytes (toolchain/plan/bands.py): (the tensor whose
    # buffer holds it, byte offset in that buffer); the arena planner places it there
    view_of: tuple[int, int] | None = None
    # what the bytes hold: (the graph tensor they are rows of, byte offset in it); None: the
    # tensor's own (the arena check follows contents through band buffers with it)
    holds: tuple[int, int] | None = None
    # a model input not in the arena: READ_INPUT layers fetch its rows through the application's
    # reader (--stream-input, toolchain/plan/stream.py)
    streamed: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size_bytes(self) -> int:
        size = _ITEMSIZE.get(self.dtype) or np.dtype(self.dtype).itemsize
        return math.prod(int(d) for d in self.shape) * size


@dataclass
class Op:
    index: int
    opcode: OpCode
    inputs: list[int]  # -1 marks an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)
    name: str = ""  # the output tensor's name: what users recognise as the layer

    @property
    def label(self) -> str:
        return f"op {self.index} {self.opcode.name} ('{self.name}')"


@dataclass
class Graph:
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def consumers(self, tensor_index: int) -> list[Op]:
        return [op for op in self.ops if tensor_index in op.inputs]


def op_macs(graph: Graph, op_name: str, inputs: list[int], outputs: list[int], options: dict) -> int:
    """Multiply-accumulates of one inference of an op, from its tensors' shapes (0 for ops
    without a weighted inner product)."""
    def shape(i):
        return graph.tensors[i].shape if 0 <= i < len(graph.tensors) else ()

    if not outputs:
        return 0
    out = int(np.prod(shape(outputs[0]), dtype=np.int64))
    if op_name == "FULLY_CONNECTED" and len(inputs) > 1:
        return out * int(shape(inputs[1])[-1])
    if op_name == "CONV_2D" and len(inputs) > 1 and len(shape(inputs[1])) == 4:
        _, kh, kw, ic = shape(inputs[1])
        return out * int(kh * kw * ic)
    if op_name == "DEPTHWISE_CONV_2D" and len(inputs) > 1 and len(shape(inputs[1])) == 4:
        _, kh, kw, _ = shape(inputs[1])
        return out * int(kh * kw)
    if op_name == "TRANSPOSE_CONV" and len(inputs) > 2 and len(shape(inputs[1])) == 4:
        oc, kh, kw, ic = shape(inputs[1])
        return int(np.prod(shape(inputs[2]), dtype=np.int64)) * int(kh * kw * oc)
    if op_name == "BATCH_MATMUL" and len(inputs) > 1 and shape(inputs[0]):
        a = shape(inputs[0])
        k = a[-2] if options.get("adj_x") and len(a) >= 2 else a[-1]
        return out * int(k)
    return 0
