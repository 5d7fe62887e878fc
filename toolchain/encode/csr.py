"""CSR with relative 8-bit column deltas and filler zeros (Deep Compression's sparse layout).

Table layout (format.CSR8 header, then three arrays, each 4-byte aligned):
    es_csr8_t   rows, cols, entry_count and the blob offsets of the arrays below
    counts      uint16[rows]          entries per row, fillers included
    deltas      uint8[entry_count]    column step before each entry (first: the column itself)
    values      int8[entry_count]     weights; 0 for fillers
A gap of more than 255 columns is bridged by filler entries (delta 255, value 0).
"""
from __future__ import annotations

import numpy as np

from toolchain.encode.format import CSR8, WeightFormat, align

FORMAT = WeightFormat.CSR8
NAME = "csr8"
MAX_DELTA = 255


def entries(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts uint16[rows], deltas uint8[n], values int8[n]) for a 2-D int8 matrix."""
    counts, deltas, values = [], [], []
    for row in np.asarray(matrix, dtype=np.int8):
        cols = np.flatnonzero(row)
        steps = np.diff(cols, prepend=0)
        n = 0
        for col, step in zip(cols, steps):
            while step > MAX_DELTA:
                deltas.append(MAX_DELTA)
                values.append(0)
                step -= MAX_DELTA
                n += 1
            deltas.append(int(step))
            values.append(int(row[col]))
            n += 1
        if n > 0xFFFF:
            raise ValueError(f"a row with {n} CSR8 entries does not fit the uint16 row count")
        counts.append(n)
    return (np.array(counts, dtype=np.uint16), np.array(deltas, dtype=np.uint8),
            np.array(values, dtype=np.int8))


def _sizes(rows: int, n: int) -> tuple[int, int, int]:
    counts_at = CSR8.size
    deltas_at = counts_at + align(2 * rows)
    values_at = deltas_at + align(n)
    return counts_at, deltas_at, values_at


def table_bytes(matrix: np.ndarray) -> int:
    counts, _, _ = entries(matrix)
    _, _, values_at = _sizes(matrix.shape[0], int(counts.sum()))
    return values_at + align(int(counts.sum()))


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    counts, deltas, values = entries(matrix)
    rows, cols = matrix.shape
    n = int(deltas.size)
    counts_at, deltas_at, values_at = _sizes(rows, n)
    out = bytearray(values_at + align(n))
    out[:CSR8.size] = CSR8.pack(rows=rows, cols=cols, entry_count=n,
                                counts_offset=base_offset + counts_at,
                                deltas_offset=base_offset + deltas_at,
                                values_offset=base_offset + values_at)
    out[counts_at:counts_at + 2 * rows] = counts.astype("<u2").tobytes()
    out[deltas_at:deltas_at + n] = deltas.tobytes()
    out[values_at:values_at + n] = values.tobytes()
    return bytes(out)


def decode(blob: bytes, offset: int) -> np.ndarray:
    """The dense matrix a CSR8 table at blob[offset:] describes."""
    h = CSR8.unpack(blob, offset)
    counts = np.frombuffer(blob, dtype="<u2", count=h["rows"], offset=h["counts_offset"])
    deltas = np.frombuffer(blob, dtype=np.uint8, count=h["entry_count"], offset=h["deltas_offset"])
    values = np.frombuffer(blob, dtype=np.int8, count=h["entry_count"], offset=h["values_offset"])
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
