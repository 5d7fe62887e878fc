"""The one place that chooses reference interpreters for int8 .tflite models.

Only reference kernels count as "correct": TFLM's (the `tflite_micro` package) or LiteRT's
BUILTIN_REF op resolver. LiteRT's default kernels and XNNPACK may round differently and are
never used here.

TFLM is the default and the oracle for the C runtime: it requantizes with double rounding
(saturating rounding doubling high multiply, then rounding divide by a power of two). The
ai_edge_litert 2.3 (and tf.lite 2.21) reference kernels requantize FULLY_CONNECTED with single
rounding, so on rare outputs (about 1 in 1000 bytes) the two backends differ by 1.
"""
from __future__ import annotations

import numpy as np

from toolchain.errors import DatasetError, InputFileError, ToolchainError
from toolchain.quantize.litert import litert_interpreter  # noqa: F401 (re-exported)

BACKENDS = ("tflm", "litert")


def reference_outputs(tflite_bytes: bytes, x_int8: np.ndarray, backend: str = "tflm") -> np.ndarray:
    """Run each sample of x_int8 through the model's reference kernels; return the int8 outputs.

    x_int8 has shape [n, *input_shape] where input_shape is the model's input shape without
    its batch of 1. The result has shape [n, *output_shape] (output without the batch).
    A model with a float32 input takes its samples as float32 [n, *input_shape] or as their
    raw bytes (int8 [n, 4 * elements], what the C runtime's input buffer holds); a float32
    output comes back as its raw bytes, int8 [n, 4 * elements], so that every comparison with
    the runtime is byte for byte (decode_outputs turns them into values).
    backend is "tflm" (TFLM reference kernels) or "litert" (LiteRT BUILTIN_REF). Raises
    ToolchainError for an unknown backend, DatasetError for mismatching data and
    InputFileError for a model the interpreter rejects.
    """
    if backend not in BACKENDS:
        raise ToolchainError(f"unknown reference backend {backend!r}: use one of {', '.join(BACKENDS)}")
    from toolchain.quiet import last_output, silenced

    x = np.asarray(x_int8)
    try:
        with silenced():  # both interpreters print their complaints from C++
            runner = _TflmRunner(tflite_bytes) if backend == "tflm" else _LiteRtRunner(tflite_bytes)
    except InputFileError as e:
        printed = " ".join(last_output().split())
        if printed and printed not in str(e):
            raise InputFileError(f"{e} (it printed: {printed[-600:]})") from None
        raise
    if tuple(runner.input_shape[0:1]) != (1,):
        raise InputFileError(
            f"model input has shape {tuple(runner.input_shape)}; the reference run needs batch 1"
        )
    per_sample = tuple(runner.input_shape[1:])
    x = _as_model_input(x, runner.input_dtype, per_sample)
    with silenced():
        outputs = [runner.run(sample[np.newaxis, ...]) for sample in x]
    if runner.output_dtype == np.float32:
        flat = np.zeros((len(x), 0), np.float32) if not outputs else \
            np.stack([np.asarray(out[0], np.float32).reshape(-1) for out in outputs])
        return np.ascontiguousarray(flat).view(np.int8)
    if not outputs:
        return np.zeros((0, *runner.output_shape[1:]), dtype=np.int8)
    return np.stack([out[0] for out in outputs]).astype(np.int8, copy=False)


def _as_model_input(x: np.ndarray, dtype, per_sample: tuple) -> np.ndarray:
    """Samples in the model input's dtype and shape: int8 as they are, float32 as given or
    from their raw bytes."""
    dtype = np.dtype(dtype)
    if dtype == np.float32 and x.dtype == np.int8:
        n = len(x)
        raw = np.ascontiguousarray(x).reshape(n, -1)
        if raw.shape[1] != 4 * int(np.prod(per_sample, dtype=np.int64)):
            raise DatasetError(f"input samples have {raw.shape[1]} bytes but the .tflite model's float32 "
                               f"input {per_sample} needs {4 * int(np.prod(per_sample, dtype=np.int64))}")
        x = raw.view(np.float32).reshape(n, *per_sample)
    if x.dtype != dtype or dtype not in (np.int8, np.float32):
        raise DatasetError(f"reference input must be {dtype.name}, got {x.dtype}"
                           + ("; quantize it first" if dtype == np.int8 else ""))
    if tuple(x.shape[1:]) != per_sample:
        raise DatasetError(
            f"input samples have shape {tuple(x.shape[1:])} but the .tflite model expects {per_sample}"
        )
    return x


def model_input_samples(x_float: np.ndarray, dtype: str, scale: float = 1.0, zero_point: int = 0) -> np.ndarray:
    """What the runtime's input buffer holds for each real-valued sample, as int8 [n, ...]:
    the int8 quantization (TFLite's rounding) for an int8 input, the float32 values' raw bytes
    [n, 4 * elements] for a float32 input (the model's own QUANTIZE op quantizes them)."""
    from toolchain.quantize.convert import quantize_input

    if dtype == "float32":
        x = np.ascontiguousarray(np.asarray(x_float, dtype=np.float32))
        return x.reshape(len(x), -1).view(np.int8)
    return quantize_input(x_float, scale, zero_point)


def decode_outputs(raw_int8: np.ndarray, dtype: str) -> np.ndarray:
    """Output bytes as values: int8 as they are, float32 from their raw bytes ([n, elements])."""
    raw = np.ascontiguousarray(np.asarray(raw_int8, dtype=np.int8))
    if dtype == "float32":
        return raw.reshape(len(raw), -1).view(np.float32)
    return raw


def accuracy_from_outputs(outputs_int8: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy (argmax over the last axis of outputs_int8 against labels y), in [0, 1]."""
    outputs = np.asarray(outputs_int8)
    labels = np.asarray(y)
    if len(outputs) != len(labels):
        raise DatasetError(f"{len(outputs)} outputs but {len(labels)} labels")
    if len(labels) == 0:
        raise DatasetError("cannot compute accuracy on 0 samples")
    predictions = np.argmax(outputs.reshape(len(outputs), -1), axis=-1)
    return float(np.mean(predictions == labels.reshape(-1)))


class _LiteRtRunner:
    def __init__(self, tflite_bytes: bytes):
        self._interpreter = litert_interpreter(tflite_bytes)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_dtype = np.dtype(self._input["dtype"])
        self.output_dtype = np.dtype(self._output["dtype"])
        self.input_shape = tuple(int(d) for d in self._input["shape"])
        self.output_shape = tuple(int(d) for d in self._output["shape"])

    def run(self, x: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()


class _TflmRunner:
    def __init__(self, tflite_bytes: bytes):
        from tflite_micro.python.tflite_micro import runtime

        from toolchain.verify.tflm_arena import _FIRST_ARENA, _MAX_ARENA

        data = bytes(tflite_bytes)
        arena = None  # the package's default: ten times the model's bytes
        while True:
            try:
                self._interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena)
                break
            except (ValueError, RuntimeError) as exc:
                # A model with few weights and large activations (one depthwise layer on a
                # 48x48x16 input) does not fit the default arena: try bigger ones (the arena's
                # size does not change the outputs), as tflm_arena does.
                if "allocate" not in str(exc) or (arena or 0) >= _MAX_ARENA:
                    raise InputFileError(f"TFLM cannot load the .tflite model: {exc}") from exc
                arena = max(_FIRST_ARENA, 16 * len(data)) if arena is None else 4 * arena
        self.input_shape = tuple(int(d) for d in self._interpreter.get_input_details(0)["shape"])
        self.output_shape = tuple(int(d) for d in self._interpreter.get_output_details(0)["shape"])
        self.input_dtype = np.dtype(self._interpreter.get_input_details(0)["dtype"])
        self.output_dtype = np.dtype(self._interpreter.get_output_details(0)["dtype"])

    def run(self, x: np.ndarray) -> np.ndarray:
        self._interpreter.set_input(x, 0)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_output(0), copy=True)
