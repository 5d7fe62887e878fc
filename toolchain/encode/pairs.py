"""Column pairs (format.WeightFormat.PAIRS), in the shared sparse table (sparse.py):
    counts  uint16[rows]          pairs per row
    index   uint16[entry_count]   first column c of each pair, each at least 2 past the
                                  previous pair's in its row
    values  int16[2 * entry_count]  per pair the weights of columns c and c + 1 (the second
                                  0 when c is the last column)
Each row's nonzero weights are covered from the left by pairs: a run of L consecutive
nonzeros takes ceil(L / 2) pairs, so a pair holds 1 + p of them on average at density p
(1.1 at 90% sparsity, 1.5 at 50%). The DSP kernel widens the input vector to int16 once a call
(scratch_bytes) and then multiplies a pair with one index load, one word load of the two
inputs and one SMLAD; one LDM brings four pairs' weights. FULLY_CONNECTED only.
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import sparse
from toolchain.encode.format import WeightFormat, align

FORMAT = WeightFormat.PAIRS
NAME = "pairs"


def applicable(matrix: np.ndarray) -> bool:
    return 2 <= matrix.shape[1] <= 0x10000


def scratch_bytes(cols: int) -> int:
    """The input widened to int16 and one 0 after it (es_pairs_scratch_bytes)."""
    return align(2 * (cols + 1))


def pairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, first column, weights [n, 2] int16) of each pair, row by row, left to right."""
    m = np.asarray(matrix, dtype=np.int8)
    rows, cols = m.shape
    padded = np.zeros((rows, cols + 1), dtype=np.int16)  # a 0 column ends every row's runs
    padded[:, :cols] = m
    flat = padded.ravel()
    nz = flat != 0
    edges = np.diff(np.concatenate([[False], nz, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    per_run = (ends - starts + 1) // 2
    first = np.repeat(starts, per_run) + 2 * (np.arange(int(per_run.sum())) -
                                             np.repeat(np.cumsum(per_run) - per_run, per_run))
    weights = np.stack([flat[first], flat[first + 1]], axis=1)
    return first // (cols + 1), first % (cols + 1), weights


def arrays(matrix: np.ndarray) -> sparse.SparseArrays:
    rows, cols = matrix.shape
    row, first, weights = pairs(matrix)
    counts = np.bincount(row, minlength=rows)
    return sparse.SparseArrays(rows, cols, sparse.check_counts(counts, "column pairs"),
                               first.astype(np.uint16), weights.astype(np.int16).ravel())


def table_bytes(matrix: np.ndarray) -> int:
    return sparse.table_bytes(arrays(matrix))


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    return sparse.pack(arrays(matrix), base_offset)


def decode(blob: bytes, offset: int) -> np.ndarray:
    h, counts, first, _ = sparse.unpack(blob, offset, "<u2")
    first = first.astype(np.int64)
    w = np.frombuffer(blob, "<i2", count=2 * h["entry_count"], offset=h["values_offset"]).reshape(-1, 2)
    out = np.zeros((h["rows"], h["cols"] + 1), dtype=np.int8)
    rows = np.repeat(np.arange(h["rows"]), counts)
    out[rows, first] = w[:, 0]
    out[rows, first + 1] = w[:, 1]
    return out[:, :h["cols"]]
