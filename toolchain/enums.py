"""Enumerations every stage shares. A leaf module: it imports nothing from the toolchain, so the
graph IR, planning, encoding and code generation can all name an op without importing each
other (tests/test_layering.py keeps it that way).

`OpCode` is re-exported by toolchain.encode.format, where the rest of the blob layout lives.
"""
from __future__ import annotations

from enum import IntEnum


class OpCode(IntEnum):
    """Runtime op codes; equal to the TFLite builtin operator codes."""

    ADD = 0
    AVERAGE_POOL_2D = 1
    CONCATENATION = 2
    CONV_2D = 3
    DEPTHWISE_CONV_2D = 4
    DEQUANTIZE = 6  # int8 -> float32 (a model output)
    FULLY_CONNECTED = 9
    LOGISTIC = 14
    MAX_POOL_2D = 17
    MUL = 18
    RELU = 19  # a 256-entry table
    RELU6 = 21  # a 256-entry table
    RESHAPE = 22
    SOFTMAX = 25
    TANH = 28
    PAD = 34
    TRANSPOSE = 39
    MEAN = 40
    SUB = 41  # es_add_broadcast_params_t
    SQUEEZE = 43  # lowered to a RESHAPE layer
    STRIDED_SLICE = 45
    SPLIT = 49  # lowered to STRIDED_SLICE layers
    MAXIMUM = 55
    MINIMUM = 57
    EXPAND_DIMS = 70  # lowered to a RESHAPE layer
    REDUCE_MAX = 82  # es_reduce_params_t
    RESIZE_NEAREST_NEIGHBOR = 97
    LEAKY_RELU = 98  # a 256-entry table, as LOGISTIC
    SPLIT_V = 102  # lowered to STRIDED_SLICE layers
    QUANTIZE = 114  # int8 -> int8 requantization, or float32 (a model input) -> int8
    HARD_SWISH = 117  # a 256-entry table
    BATCH_MATMUL = 126
    # edgesparse's own, no TFLite builtin: rows of a streamed model input from the application's
    # reader (--stream-input, toolchain/plan/stream.py)
    READ_INPUT = 255
