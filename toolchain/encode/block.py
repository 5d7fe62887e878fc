"""Block-sparse 1x4: runs of four consecutive weights of one row, kept or dropped whole, in
the shared sparse table (sparse.py):
    counts  uint16[rows]          blocks per row
    index   uint16[entry_count]   first column of each block (a multiple of 4), increasing
    values  int8[4 * entry_count] the block's four weights (zeros inside a block are kept)
Applies when cols is a multiple of 4; any matrix can be stored, but it pays only when the
zeros come in aligned blocks (patterns.block_mask(w, 1, 4, s) makes them).
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import patterns, sparse
from toolchain.encode.format import WeightFormat

FORMAT = WeightFormat.BLOCK1X4
NAME = "block1x4"
WIDTH = 4


def applicable(matrix: np.ndarray) -> bool:
    return matrix.shape[1] % WIDTH == 0 and matrix.shape[1] <= 0x10000


def arrays(matrix: np.ndarray) -> sparse.SparseArrays:
    m = np.asarray(matrix, dtype=np.int8)
    kept = patterns.nonzero_blocks(m, 1, WIDTH)
    if kept is None:
        raise ValueError(f"block1x4 needs a column count divisible by {WIDTH}, got {m.shape[1]}")
    rows, blocks = np.nonzero(kept)
    values = m.reshape(m.shape[0], -1, WIDTH)[rows, blocks].reshape(-1)
    counts = kept.sum(axis=1)
    return sparse.SparseArrays(m.shape[0], m.shape[1], sparse.check_counts(counts, "blocks"),
                               (blocks * WIDTH).astype(np.uint16), values)


def table_bytes(matrix: np.ndarray) -> int:
    return sparse.table_bytes(arrays(matrix))


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    return sparse.pack(arrays(matrix), base_offset)


def decode(blob: bytes, offset: int) -> np.ndarray:
    h, counts, index, _ = sparse.unpack(blob, offset, "<u2")
    _, _, _, values = sparse.unpack(blob, offset, "<u2", value_bytes=WIDTH * h["entry_count"])
    out = np.zeros((h["rows"], h["cols"]), dtype=np.int8)
    rows = np.repeat(np.arange(h["rows"]), counts)
    for k, (r, c) in enumerate(zip(rows, index)):
        out[r, c:c + WIDTH] = values[WIDTH * k:WIDTH * (k + 1)]
    return out
