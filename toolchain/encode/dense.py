"""Dense int8 weights: the matrix row-major, exactly as the kernel reads it."""
from __future__ import annotations

import numpy as np

from toolchain.encode.format import WeightFormat

FORMAT = WeightFormat.DENSE
NAME = "dense"


def table_bytes(matrix: np.ndarray) -> int:
    return int(matrix.size)


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    del base_offset  # dense tables hold no offsets
    return np.ascontiguousarray(matrix, dtype=np.int8).tobytes()


def decode(blob: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.int8, count=rows * cols, offset=offset).reshape(rows, cols).copy()
