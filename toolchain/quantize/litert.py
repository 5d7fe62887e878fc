"""LiteRT's reference-kernel interpreter, shared by quantization (reading a converted model's
input quantization) and verification (LiteRT BUILTIN_REF, the secondary reference). It lives in
the lower stage so that quantize does not import verify (tests/test_layering.py)."""
from __future__ import annotations

from toolchain.errors import InputFileError


def litert_interpreter(tflite_bytes: bytes):
    """An allocated LiteRT interpreter using the BUILTIN_REF (reference kernel) op resolver.

    Prefers ai_edge_litert, then tflite_runtime, then tf.lite. Raises InputFileError if the
    model cannot be loaded.
    """
    interpreter_class, resolver = _litert_interpreter_class()
    try:
        interpreter = interpreter_class(
            model_content=bytes(tflite_bytes),
            experimental_op_resolver_type=resolver.BUILTIN_REF,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise InputFileError(f"LiteRT cannot load the .tflite model: {exc}") from exc
    return interpreter


def _litert_interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter, OpResolverType
        except ImportError:
            import tensorflow as tf

            Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    return Interpreter, OpResolverType
