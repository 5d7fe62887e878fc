"""Reference interpreters (TFLM, LiteRT BUILTIN_REF) and output comparison."""
from toolchain.verify.reference import (
    BACKENDS,
    accuracy_from_outputs,
    litert_interpreter,
    reference_outputs,
)

__all__ = ["BACKENDS", "accuracy_from_outputs", "litert_interpreter", "reference_outputs"]
