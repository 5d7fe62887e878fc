"""2:4 structured sparsity: at most two nonzeros in every group of four consecutive weights
of a row, in the shared sparse table (sparse.py):
    counts  uint16[rows]              cols / 4 groups per row
    index   uint16[rows * cols / 4]   per group g, the byte offset g*24 + code*4 of its input
                                      pair in the kernel's pair table; code 0..5 = positions
                                      (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    values  int8, per row 4 * ceil(groups / 2) bytes: for groups g (even) and g+1 one word
            [a_g, a_g+1, b_g, b_g+1], a at the first position, b at the second
A group with fewer than two nonzeros takes a pair holding them (the other weight is 0).
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import patterns, sparse
from toolchain.encode.format import WeightFormat

FORMAT = WeightFormat.NM24
NAME = "nm2:4"
N, M = 2, 4
PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
PAIR_TABLE_BYTES_PER_GROUP = 4 * len(PAIRS)


def applicable(matrix: np.ndarray) -> bool:
    cols = matrix.shape[1]
    return cols % M == 0 and cols // M * PAIR_TABLE_BYTES_PER_GROUP <= 0x10000 and \
        patterns.is_nm(matrix, N, M)


def scratch_bytes(cols: int) -> int:
    return cols // M * PAIR_TABLE_BYTES_PER_GROUP


def _code(positions: tuple[int, ...]) -> int:
    if len(positions) == 2:
        return PAIRS.index(positions)
    if len(positions) == 1:
        p = positions[0]
        return PAIRS.index((p, p + 1) if p < M - 1 else (p - 1, p))
    return 0


def arrays(matrix: np.ndarray) -> sparse.SparseArrays:
    m = np.asarray(matrix, dtype=np.int8)
    if not applicable(m):
        raise ValueError("the matrix is not 2:4 sparse along its rows (or its column count is not "
                         "a multiple of 4)")
    rows, cols = m.shape
    groups = cols // M
    words = (groups + 1) // 2
    index = np.zeros((rows, groups), dtype=np.uint16)
    values = np.zeros((rows, words, 4), dtype=np.int8)
    for r in range(rows):
        g4 = m[r].reshape(groups, M)
        for g in range(groups):
            code = _code(tuple(int(p) for p in np.flatnonzero(g4[g])))
            first, second = PAIRS[code]
            index[r, g] = g * PAIR_TABLE_BYTES_PER_GROUP + 4 * code
            values[r, g // 2, g % 2] = g4[g, first]
            values[r, g // 2, 2 + g % 2] = g4[g, second]
    counts = np.full(rows, groups, dtype=np.uint16)
    return sparse.SparseArrays(rows, cols, counts, index.reshape(-1), values.reshape(-1))


def table_bytes(matrix: np.ndarray) -> int:
    return sparse.table_bytes(arrays(matrix))


def encode(matrix: np.ndarray, base_offset: int) -> bytes:
    return sparse.pack(arrays(matrix), base_offset)


def decode(blob: bytes, offset: int) -> np.ndarray:
    h, _, index, _ = sparse.unpack(blob, offset, "<u2")
    rows, cols = h["rows"], h["cols"]
    groups = cols // M
    words = (groups + 1) // 2
    _, _, _, values = sparse.unpack(blob, offset, "<u2", value_bytes=rows * words * 4)
    values = values.reshape(rows, words, 4)
    out = np.zeros((rows, cols), dtype=np.int8)
    for r in range(rows):
        for g in range(groups):
            off = int(index[r * groups + g]) - g * PAIR_TABLE_BYTES_PER_GROUP
            first, second = PAIRS[off // 4]
            out[r, g * M + first] = values[r, g // 2, g % 2]
            out[r, g * M + second] = values[r, g // 2, 2 + g % 2]
    return out
