"""Streamed input (--stream-input, issue 22): the model input is not written whole into the
arena; the application hands its rows to the runtime through a reader
(es_model_set_input_reader) as the first layers need them, as a camera or a sensor delivers
them line by line.

The rewrite: the graph input becomes a streamed tensor (Tensor.streamed: no arena bytes, the
blob flags it ES_TENSOR_STREAMED) and a READ_INPUT layer first fetches all its rows into an
arena tensor that every former reader of the input now reads. On its own that changes nothing
but one call; the row-band planner (bands.py) then treats READ_INPUT as the first layer of a
chain (a window of one row), so a band of the first convolutions fetches only the rows it
needs into a buffer of a few rows, and the input never exists whole in RAM.
"""
from __future__ import annotations

import dataclasses

from toolchain.enums import OpCode
from toolchain.errors import UnsupportedOpError
from toolchain.ir.graph import Graph
from toolchain.plan.lower import Layer
from toolchain.plan.select import NO_WEIGHTS, Choice


def stream_inputs(graph: Graph, layers: list[Layer],
                  choices: list[Choice]) -> tuple[Graph, list[Layer], list[Choice]]:
    """The model with each input read through READ_INPUT layers (one per input, first).
    UnsupportedOpError, naming the input, for an input that cannot be streamed: not int8
    (a float32 input is quantized by the model's first layer, which needs it whole), or not an
    image (NHWC, batch 1)."""
    tensors = list(graph.tensors)
    reads: list[Layer] = []
    renamed: dict[int, int] = {}
    for k, t in enumerate(graph.inputs):
        x = graph.tensors[t]
        if x.dtype != "int8" or len(x.shape) != 4 or x.shape[0] != 1:
            raise UnsupportedOpError(
                f"--stream-input: input '{x.name}' is {x.dtype} of shape {list(x.shape)}; a "
                "streamed input must be an int8 image (NHWC, batch 1) read row by row. Convert "
                "the model with int8 input (inference_input_type=tf.int8) or drop --stream-input")
        copy = dataclasses.replace(x, index=len(tensors), name=f"{x.name} (read)")
        tensors.append(copy)
        tensors[t] = dataclasses.replace(x, streamed=True)
        renamed[t] = copy.index
        _, h, w, c = x.shape
        reads.append(Layer(0, f"{x.name} [read]", OpCode.READ_INPUT, [t], copy.index,
                           dict(first_row=0, rows=h, row_bytes=w * c, input_index=k)))
    n = len(reads)
    out = [dataclasses.replace(layer, inputs=[renamed.get(t, t) for t in layer.inputs],
                               shares=None if layer.shares is None else layer.shares + n)
           for layer in layers]
    graph = dataclasses.replace(graph, tensors=tensors,
                                outputs=[renamed.get(t, t) for t in graph.outputs])
    return graph, reads + out, [Choice(NO_WEIGHTS, 0, {}) for _ in reads] + list(choices)
