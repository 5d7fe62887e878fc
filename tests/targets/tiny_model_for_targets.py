"""A two-layer model blob (MAX_POOL_2D 2x2 on 4x4x2, then RESHAPE to 8 bytes) written with
toolchain.encode.format, so target tests can run the real runtime without the Keras
pipeline. Expected outputs are computed with numpy."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from toolchain.encode import format as fmt

NAME = "tiny_pool"
IN_SHAPE = (1, 4, 4, 2)
OUT_BYTES = 8


def blob_bytes() -> bytes:
    header_bytes = fmt.HEADER.size
    io = np.array([0, 2], dtype="<u2").tobytes()  # input tensor 0, output tensor 2
    tensors = [
        dict(arena_offset=0, bytes=32, dims=[1, 4, 4, 2], rank=4),
        dict(arena_offset=32, bytes=8, dims=[1, 2, 2, 2], rank=4),
        dict(arena_offset=40, bytes=8, dims=[1, 1, 1, 8], rank=2),
    ]
    io_offset = header_bytes
    tensors_offset = fmt.align(io_offset + len(io))
    layers_offset = tensors_offset + fmt.TENSOR.size * len(tensors)
    params_offset = layers_offset + 2 * fmt.LAYER.size
    pool = fmt.POOL_PARAMS.pack(in_h=4, in_w=4, channels=2, out_h=2, out_w=2, f_h=2, f_w=2,
                                stride_h=2, stride_w=2, pad_top=0, pad_left=0,
                                act_min=-128, act_max=127)
    reshape_offset = fmt.align(params_offset + len(pool))
    reshape = fmt.RESHAPE_PARAMS.pack(bytes=8)
    total = fmt.align(reshape_offset + len(reshape), 8)
    layers = [
        fmt.LAYER.pack(op=int(fmt.OpCode.MAX_POOL_2D), format=0, input=[0, fmt.NO_TENSOR],
                       output=1, params_offset=params_offset, params_bytes=len(pool)),
        fmt.LAYER.pack(op=int(fmt.OpCode.RESHAPE), format=0, input=[1, fmt.NO_TENSOR],
                       output=2, params_offset=reshape_offset, params_bytes=len(reshape)),
    ]
    header = fmt.HEADER.pack(magic=fmt.MAGIC, version=fmt.FORMAT_VERSION,
                             header_bytes=header_bytes, blob_bytes=total, flags=0, crc32=0,
                             arena_bytes=48, io_offset=io_offset, tensors_offset=tensors_offset,
                             layers_offset=layers_offset, tensor_count=len(tensors),
                             layer_count=len(layers), input_count=1, output_count=1)
    blob = bytearray(total)
    blob[0:header_bytes] = header
    blob[io_offset:io_offset + len(io)] = io
    for i, t in enumerate(tensors):
        rec = fmt.TENSOR.pack(type=1, zero_point=0, scale=1.0, **t)
        blob[tensors_offset + i * fmt.TENSOR.size:tensors_offset + (i + 1) * fmt.TENSOR.size] = rec
    for i, rec in enumerate(layers):
        blob[layers_offset + i * fmt.LAYER.size:layers_offset + (i + 1) * fmt.LAYER.size] = rec
    blob[params_offset:params_offset + len(pool)] = pool
    blob[reshape_offset:reshape_offset + len(reshape)] = reshape
    return bytes(blob)


def write_sources(out_dir: Path) -> Path:
    """model.c / model.h in the shape codegen emits (see templates/model.h.j2)."""
    blob = blob_bytes()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.h").write_text(f"""#ifndef ES_MODEL_H
#define ES_MODEL_H
#include "edgesparse.h"
#define ES_MODEL_NAME "{NAME}"
#define ES_MODEL_BLOB_BYTES {len(blob)}u
#define ES_MODEL_ARENA_BYTES 48u
#define ES_MODEL_INPUT_BYTES 32u
#define ES_MODEL_OUTPUT_BYTES {OUT_BYTES}u
#define ES_MODEL_LAYER_COUNT 2u
extern const uint8_t es_model_blob[ES_MODEL_BLOB_BYTES];
extern const uint32_t es_model_blob_bytes;
extern const uint32_t es_model_arena_bytes;
#endif
""")
    data = ", ".join(str(b) for b in blob)
    (out_dir / "model.c").write_text(f"""#include "model.h"
__attribute__((aligned(8))) const uint8_t es_model_blob[ES_MODEL_BLOB_BYTES] = {{{data}}};
const uint32_t es_model_blob_bytes = ES_MODEL_BLOB_BYTES;
const uint32_t es_model_arena_bytes = ES_MODEL_ARENA_BYTES;
""")
    return out_dir


def expected(x: np.ndarray) -> np.ndarray:
    x = x.reshape(-1, 2, 2, 2, 2, 2)  # N, oh, kh, ow, kw, c
    return x.max(axis=(2, 4)).reshape(x.shape[0], OUT_BYTES)


def inputs(n: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(n, 32), dtype=np.int16).astype(np.int8)
