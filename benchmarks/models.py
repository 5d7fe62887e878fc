"""One-layer int8 models for the kernel benchmark, cached on disk.

A case is one (shape, pattern) pair: a tf_keras model with a single Dense, Conv2D or
DepthwiseConv2D layer (no activation, bias on), random weights from a fixed seed, zeroed with a
mask from toolchain/encode/patterns.py (depthwise: dense only), converted to a full-int8 .tflite
with random representative data. An ADD shape adds the input to its own ReLU (a RELU op, then
the ADD measured), so the ADD's two int8 inputs have different scales, as in a residual. Beside the .tflite the cache keeps the int8 test inputs, and in a file of its own TFLM's
reference outputs for them, so boards and formats reuse one conversion and one reference run.
The model is keyed on what makes it (the converter's sources and versions:
toolchain.cache_key), the reference on the model, the inputs and the oracle's version, so a
new tflite-micro never reuses an old reference.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.config import ADD, CONV, DEPTHWISE, FC, Pattern, Shape

# Bump when the way models, inputs or references are made changes: it invalidates the cache.
MODEL_VERSION = 2
REFERENCE_VERSION = 1
# Sources a case's .tflite and int8 inputs depend on (with CONVERTER_TOOLS' versions).
MODEL_SOURCES = ("toolchain/__init__.py", "toolchain/quantize", "toolchain/encode/patterns.py",
                 "toolchain/ir", "benchmarks/models.py", "benchmarks/config.py")
# Sources the reference outputs depend on (with ORACLE_TOOLS' versions).
REFERENCE_SOURCES = ("toolchain/verify", "toolchain/pipeline.py")
SEED = 0
CALIBRATION_SAMPLES = 64
TEST_SAMPLES = 2  # inputs run on every firmware (and through the reference)


@dataclass
class Case:
    shape: Shape
    pattern: Pattern
    tflite: bytes
    x_int8: np.ndarray  # [TEST_SAMPLES, *input_shape]
    reference: np.ndarray  # TFLM reference outputs, int8 [TEST_SAMPLES, output_bytes]

    @property
    def tflite_sha(self) -> str:
        return hashlib.sha256(self.tflite).hexdigest()

    @property
    def inputs_sha(self) -> str:
        return _array_sha(self.x_int8)

    @property
    def reference_sha(self) -> str:
        return _array_sha(self.reference)


def _array_sha(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def _seed(shape: Shape, pattern: Pattern) -> int:
    return zlib.crc32(f"{SEED}/{shape.name}/{pattern.slug}".encode())


def build_keras_model(shape: Shape, pattern: Pattern):
    """The one-layer model with masked random weights; returns (model, calibration inputs)."""
    import tf_keras as keras

    from toolchain.encode import patterns

    if not shape.sparse_capable and (pattern.kind != "unstructured" or pattern.sparsity):
        raise ValueError(f"shape {shape.name!r}: {shape.op} layers are measured dense only "
                         f"(unstructured 0%), not {pattern.label}")
    rng = np.random.default_rng(_seed(shape, pattern))
    inp = keras.Input(shape.input_shape)
    if shape.op == ADD:
        model = keras.Model(inp, keras.layers.Add()([inp, keras.layers.ReLU()(inp)]), name="bench")
        return model, _inputs(rng, shape)
    if shape.op == DEPTHWISE:
        layer = keras.layers.DepthwiseConv2D(shape.kernel, strides=shape.stride,
                                             padding=shape.padding,
                                             depth_multiplier=shape.multiplier)
        model = keras.Model(inp, layer(inp), name="bench")
        kernel, bias = layer.get_weights()  # kernel [kh, kw, c, multiplier]
        kernel = rng.normal(0.0, 1.0, kernel.shape).astype(np.float32)
        taps = shape.kernel[0] * shape.kernel[1]
        if pattern.sparsity:  # unstructured over each output channel's taps
            if pattern.kind != "unstructured":
                raise ValueError(f"shape {shape.name!r}: depthwise layers are measured with "
                                 f"unstructured sparsity only, not {pattern.label}")
            rows = kernel.reshape(taps, -1).T  # [output channel c * multiplier + j, tap]
            mask = patterns.unstructured_mask(rows, pattern.sparsity)
            kernel = (rows * mask).T.reshape(kernel.shape).astype(np.float32)
            taps = max(1, int(np.count_nonzero(mask)) // mask.shape[0])
        kernel /= np.float32(np.sqrt(taps))
        bias = rng.normal(0.0, 0.5, bias.shape).astype(np.float32)
        layer.set_weights([kernel, bias])
        return model, _inputs(rng, shape)
    if shape.op == FC:
        layer = keras.layers.Dense(shape.units)
    elif shape.op == CONV:
        layer = keras.layers.Conv2D(shape.units, shape.kernel, strides=shape.stride,
                                    padding=shape.padding)
    else:
        raise ValueError(f"shape {shape.name!r}: no model builder for op {shape.op!r}")
    model = keras.Model(inp, layer(inp), name="bench")
    kernel, bias = layer.get_weights()
    kernel = rng.normal(0.0, 1.0, kernel.shape).astype(np.float32)
    rows = patterns.keras_rows(kernel)
    if pattern.kind == "unstructured":
        mask = patterns.unstructured_mask(rows, pattern.sparsity)
    elif pattern.kind == "nm":
        mask = patterns.nm_mask(rows, pattern.n, pattern.m)
    elif pattern.kind == "block":
        mask = patterns.block_mask(rows, pattern.bh, pattern.bw, pattern.sparsity)
    else:
        raise ValueError(f"unknown pattern kind {pattern.kind!r}")
    kernel = patterns.keras_from_rows(rows * mask, kernel.shape).astype(np.float32)
    # Scale so that outputs have about unit variance whatever the fan-in and sparsity.
    fan_in = max(1, int(np.count_nonzero(mask)) // mask.shape[0])
    kernel /= np.float32(np.sqrt(fan_in))
    bias = rng.normal(0.0, 0.5, bias.shape).astype(np.float32)
    layer.set_weights([kernel, bias])
    return model, _inputs(rng, shape)


def _inputs(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Calibration then test inputs, standard normal."""
    x = rng.normal(0.0, 1.0, (CALIBRATION_SAMPLES + TEST_SAMPLES, *shape.input_shape))
    return x.astype(np.float32)


def _cache_key(shape: Shape, pattern: Pattern) -> str:
    from toolchain.cache_key import CONVERTER_TOOLS, cache_key

    return cache_key([MODEL_VERSION, SEED, CALIBRATION_SAMPLES, TEST_SAMPLES, shape.name,
                      pattern.slug], MODEL_SOURCES, CONVERTER_TOOLS, length=16)


def reference_path(cache_dir: Path, stem: str, tflite: bytes, x_int8: np.ndarray) -> Path:
    """Where TFLM's reference outputs for (tflite, x_int8) are cached: keyed on both, on the
    reference's sources and on the oracle's version (ORACLE_TOOLS)."""
    from toolchain.cache_key import ORACLE_TOOLS, cache_key

    key = cache_key([REFERENCE_VERSION, hashlib.sha256(tflite).hexdigest(), _array_sha(x_int8)],
                    REFERENCE_SOURCES, ORACLE_TOOLS, length=16)
    return cache_dir / f"{stem}__reference__{key}.npy"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def load_case(shape: Shape, pattern: Pattern, cache_dir: Path) -> Case:
    """The case from cache_dir, converting and running the reference first if needed."""
    import io

    import toolchain  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.pipeline import reference
    from toolchain.quantize.convert import quantize_input, to_int8_tflite

    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"{shape.name}__{pattern.slug}"
    stem = cache_dir / f"{name}__{_cache_key(shape, pattern)}"
    tflite_path, data_path = stem.with_suffix(".tflite"), stem.with_suffix(".npz")
    if tflite_path.is_file() and data_path.is_file():
        tflite = tflite_path.read_bytes()
        with np.load(data_path) as d:
            x_int8 = d["x"]
    else:
        model, x = build_keras_model(shape, pattern)
        tflite = to_int8_tflite(model, x[:CALIBRATION_SAMPLES])
        graph = load_tflite(tflite, "bench")
        inp = graph.tensors[graph.inputs[0]]
        x_int8 = quantize_input(x[CALIBRATION_SAMPLES:], float(inp.scale[0]), int(inp.zero_point[0]))
        buf = io.BytesIO()
        np.savez(buf, x=x_int8)
        _write_atomic(data_path, buf.getvalue())
        _write_atomic(tflite_path, tflite)
    ref_path = reference_path(cache_dir, name, tflite, x_int8)
    if ref_path.is_file():
        ref = np.load(ref_path)
    else:
        ref = reference(tflite, x_int8)
        buf = io.BytesIO()
        np.save(buf, ref)
        _write_atomic(ref_path, buf.getvalue())
    return Case(shape, pattern, tflite, x_int8, ref)
