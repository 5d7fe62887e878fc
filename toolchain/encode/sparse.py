"""The table shared by every sparse weight format (format.SPARSE, es_sparse_t):

    es_sparse_t   rows, cols, entry_count and the blob offsets of the arrays below
    counts        uint16[rows]      entries (or blocks, or groups) per row
    index         the format's index stream (uint8 or uint16 per entry)
    values        the format's value stream (int8; pairs: int16)

each array 4-byte aligned. What index and values mean is each format's business
(csr.py, csr16.py, block.py, nm.py); this module only lays them out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.encode.format import SPARSE, align


@dataclass
class SparseArrays:
    rows: int
    cols: int
    counts: np.ndarray  # uint16[rows]
    index: np.ndarray  # uint8 or uint16[entry_count]
    values: np.ndarray  # int8 (pairs: int16)

    @property
    def entry_count(self) -> int:
        return int(self.index.size)


def check_counts(counts, what: str) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size and counts.max() > 0xFFFF:
        raise ValueError(f"a row with {counts.max()} {what} does not fit the uint16 row count")
    return counts.astype(np.uint16)


def _layout(a: SparseArrays) -> tuple[int, int, int, int]:
    counts_at = SPARSE.size
    index_at = counts_at + align(2 * a.rows)
    values_at = index_at + align(a.index.nbytes)
    return counts_at, index_at, values_at, values_at + align(a.values.nbytes)


def table_bytes(a: SparseArrays) -> int:
    return _layout(a)[3]


def pack(a: SparseArrays, base_offset: int) -> bytes:
    counts_at, index_at, values_at, total = _layout(a)
    out = bytearray(total)
    out[:SPARSE.size] = SPARSE.pack(rows=a.rows, cols=a.cols, entry_count=a.entry_count,
                                    counts_offset=base_offset + counts_at,
                                    index_offset=base_offset + index_at,
                                    values_offset=base_offset + values_at)
    out[counts_at:counts_at + 2 * a.rows] = a.counts.astype("<u2").tobytes()
    index = a.index.astype("<u2") if a.index.dtype.itemsize == 2 else a.index.astype(np.uint8)
    out[index_at:index_at + index.nbytes] = index.tobytes()
    values = a.values.astype("<i2") if a.values.dtype.itemsize == 2 else a.values.astype(np.int8)
    out[values_at:values_at + values.nbytes] = values.tobytes()
    return bytes(out)


def unpack(blob: bytes, offset: int, index_dtype: str, value_bytes: int | None = None
           ) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """(header, counts, index, values) of the table at blob[offset:]; value_bytes defaults to
    one per entry."""
    h = SPARSE.unpack(blob, offset)
    n = h["entry_count"]
    counts = np.frombuffer(blob, dtype="<u2", count=h["rows"], offset=h["counts_offset"])
    index = np.frombuffer(blob, dtype=index_dtype, count=n, offset=h["index_offset"])
    values = np.frombuffer(blob, dtype=np.int8, count=n if value_bytes is None else value_bytes,
                           offset=h["values_offset"])
    return h, counts, index, values
