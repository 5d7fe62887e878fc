"""CSR with absolute 16-bit column indices, in the shared sparse table (sparse.py):
    counts  uint16[rows]          nonzeros per row
    index   uint16[entry_count]   column of each nonzero, increasing within a row
    values  int8[entry_count]
One more index byte per weight than CSR8, no fillers, and a faster kernel: the column
addresses the input directly.
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import sparse
from toolchain.encode.format import WeightFormat

FORMAT = WeightFormat.CSR16
NAME = "csr16"


def applicable(matrix: np.ndarray) -> bool:
    return matrix.shape[1] <= 0x10000


def arrays(matrix: np.ndarray) -> sparse.SparseArrays:
    m = np.asarray(matrix, dtype=np.int8)
    rows, cols = np.nonzero(m)
    counts = np.bincount(rows, minlength=m.shape[0])
    return sparse.SparseArrays(m.shape[0], m.shape[1], sparse.check_counts(counts, "nonzeros"),
                               cols.astype(np.uint16), m[rows, cols])


def table_bytes(matrix: np.ndarray) -> int:
    return sparse.table_bytes(arrays(matrix))


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    return sparse.pack(arrays(matrix), base_offset)


def decode(blob: bytes, offset: int) -> np.ndarray:
    h, counts, index, values = sparse.unpack(blob, offset, "<u2")
    out = np.zeros((h["rows"], h["cols"]), dtype=np.int8)
    rows = np.repeat(np.arange(h["rows"]), counts)
    keep = values != 0
    out[rows[keep], index[keep]] = values[keep]
    return out
