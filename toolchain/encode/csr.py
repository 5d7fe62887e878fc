"""CSR with relative 8-bit column deltas and filler zeros (Deep Compression's sparse layout),
in the shared sparse table (sparse.py):
    counts  uint16[rows]          entries per row, fillers included
    index   uint8[entry_count]    column step before each entry (first: the column itself)
    values  int8[entry_count]     weights; 0 for fillers
A gap of more than 255 columns is bridged by filler entries (delta 255, value 0).
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import sparse
from toolchain.encode.format import WeightFormat

FORMAT = WeightFormat.CSR8
NAME = "csr8"
MAX_DELTA = 255


def entries(matrix: np.ndarray, max_delta: int = MAX_DELTA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts uint16[rows], deltas uint8[n], values int8[n]) for a 2-D int8 matrix; gaps over
    max_delta bridged by fillers of max_delta (csr8_huffman.py takes 254)."""
    counts, deltas, values = [], [], []
    for row in np.asarray(matrix, dtype=np.int8):
        cols = np.flatnonzero(row)
        steps = np.diff(cols, prepend=0)
        n = 0
        for col, step in zip(cols, steps):
            while step > max_delta:
                deltas.append(max_delta)
                values.append(0)
                step -= max_delta
                n += 1
            deltas.append(int(step))
            values.append(int(row[col]))
            n += 1
        counts.append(n)
    return (sparse.check_counts(counts, "CSR8 entries"), np.array(deltas, dtype=np.uint8),
            np.array(values, dtype=np.int8))


def arrays(matrix: np.ndarray) -> sparse.SparseArrays:
    counts, deltas, values = entries(matrix)
    return sparse.SparseArrays(matrix.shape[0], matrix.shape[1], counts, deltas, values)


def table_bytes(matrix: np.ndarray) -> int:
    return sparse.table_bytes(arrays(matrix))


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    return sparse.pack(arrays(matrix), base_offset)


def decode(blob: bytes, offset: int) -> np.ndarray:
    """The dense matrix a CSR8 table at blob[offset:] describes."""
    h, counts, deltas, values = sparse.unpack(blob, offset, "u1")
    out = np.zeros((h["rows"], h["cols"]), dtype=np.int8)
    k = 0
    for r, n in enumerate(counts):
        col = 0
        for _ in range(int(n)):
            col += int(deltas[k])
            if values[k]:
                out[r, col] = values[k]
            k += 1
    return out
