"""csr8+huffman: the CSR8 table (csr.py) with its column deltas and its int8 values each coded
with a canonical Huffman code of its own (huffman.py), for plain int8 weights (no codebook).
The runtime decodes both streams once at init into the arena, where the CSR8 kernels read
them as if from a raw CSR8 table (format.CSR8_HUFFMAN, es_csr8_huffman_t):

    es_csr8_huffman_t  shape, entry_count, counts and arena offsets, then per stream (index:
                       the deltas; values) its code's counts, symbols and bit stream
    counts             uint16[rows]      entries per row, fillers included (as CSR8)
    index code         uint16[17] codes per length, uint8[symbols] in canonical order
    values code        the same
    index stream       the deltas' bit stream
    values stream      the values' bit stream

each array 4-byte aligned. The arena region (ram_offset, ram_bytes) holds the decoded deltas,
uint8[entry_count], then from the next multiple of 4 the values, int8[entry_count]. A matrix
without a nonzero weight has no entries, no codes and no streams (their fields 0).

Deltas are peaked (pruned layers step by small gaps far more often than large ones) and so
are int8 values (most weights are near zero), which is what the codes take out. select.py
offers the format where Huffman coding decoded at init is asked for (--huffman, --compress
max), like the Huffman-coded palettes, and picks it where it is the smaller table.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from toolchain.encode import csr, huffman
from toolchain.encode.format import CSR8_HUFFMAN, WeightFormat, align

FORMAT = WeightFormat.CSR8_HUFFMAN
NAME = "csr8+huffman"
HUFF_COUNTS = huffman.MAX_CODE_LEN + 1
STREAMS = ("index", "values")


@lru_cache(maxsize=32)  # format choice, cost model and blob ask for the same layers' streams
def _coded(data: bytes, shape: tuple[int, int]):
    m = np.frombuffer(data, dtype=np.int8).reshape(shape)
    counts, deltas, values = csr.entries(m)
    codes = {}
    for name, raw in zip(STREAMS, (deltas.tobytes(), values.tobytes())):
        if raw:
            code = huffman.build_code(raw)
            codes[name] = (code, huffman.encode(raw, code))
    return counts, len(deltas), codes


def _parts(matrix: np.ndarray):
    m = np.ascontiguousarray(matrix, dtype=np.int8)
    return _coded(m.tobytes(), m.shape)


def _layout(rows: int, codes: dict) -> dict[str, int]:
    at = {"counts": CSR8_HUFFMAN.size}
    pos = at["counts"] + align(2 * rows)
    for name in STREAMS:
        code = codes.get(name, (None, b""))[0]
        at[f"{name}_counts"] = pos
        pos += align(2 * HUFF_COUNTS) if code else 0
        at[f"{name}_symbols"] = pos
        pos += align(len(code.lengths)) if code else 0
    for name in STREAMS:
        at[f"{name}_stream"] = pos
        pos += align(len(codes.get(name, (None, b""))[1]))
    at["end"] = pos
    return at


def table_bytes(matrix: np.ndarray) -> int:
    return _layout(matrix.shape[0], _parts(matrix)[2])["end"]


def ram_bytes(matrix: np.ndarray) -> int:
    """Arena bytes the layer keeps: the decoded deltas, then (4-aligned) the values."""
    n = _parts(matrix)[1]
    return align(n) + align(n) if n else 0


def encode(matrix: np.ndarray, base_offset: int, ram_offset: int = 0) -> bytes:
    counts, n, codes = _parts(matrix)
    rows, cols = matrix.shape
    at = _layout(rows, codes)
    out = bytearray(at["end"])
    fields = dict(rows=rows, cols=cols, entry_count=n, counts_offset=base_offset + at["counts"],
                  ram_offset=ram_offset if n else 0, ram_bytes=ram_bytes(matrix))
    for name in STREAMS:
        code, stream = codes.get(name, (None, b""))
        fields.update({f"{name}_counts_offset": base_offset + at[f"{name}_counts"] if code else 0,
                       f"{name}_symbols_offset": base_offset + at[f"{name}_symbols"] if code else 0,
                       f"{name}_stream_offset": base_offset + at[f"{name}_stream"] if code else 0,
                       f"{name}_stream_bytes": len(stream),
                       f"{name}_symbol_count": len(code.lengths) if code else 0})
        if code:
            c, s = at[f"{name}_counts"], at[f"{name}_symbols"]
            out[c:c + 2 * HUFF_COUNTS] = np.array(code.counts, dtype="<u2").tobytes()
            out[s:s + len(code.lengths)] = bytes(code.symbols)
            out[at[f"{name}_stream"]:at[f"{name}_stream"] + len(stream)] = stream
    out[:CSR8_HUFFMAN.size] = CSR8_HUFFMAN.pack(**fields)
    out[at["counts"]:at["counts"] + 2 * rows] = counts.astype("<u2").tobytes()
    return bytes(out)


def decode(blob: bytes, offset: int) -> np.ndarray:
    """The dense matrix a csr8+huffman table at blob[offset:] describes."""
    h = CSR8_HUFFMAN.unpack(blob, offset)
    rows, cols, n = h["rows"], h["cols"], h["entry_count"]
    counts = np.frombuffer(blob, dtype="<u2", count=rows, offset=h["counts_offset"])
    streams = {}
    for name in STREAMS:
        if not n:
            streams[name] = b""
            continue
        code_counts = list(np.frombuffer(blob, dtype="<u2", count=HUFF_COUNTS,
                                         offset=h[f"{name}_counts_offset"]))
        sym = h[f"{name}_symbols_offset"]
        symbols = list(blob[sym:sym + h[f"{name}_symbol_count"]])
        at = h[f"{name}_stream_offset"]
        streams[name] = huffman.decode(bytes(blob[at:at + h[f"{name}_stream_bytes"]]),
                                       code_counts, symbols, n)
    deltas = np.frombuffer(streams["index"], dtype=np.uint8)
    values = np.frombuffer(streams["values"], dtype=np.int8)
    out = np.zeros((rows, cols), dtype=np.int8)
    k = 0
    for r, c in enumerate(counts):
        col = 0
        for _ in range(int(c)):
            col += int(deltas[k])
            if values[k]:
                out[r, col] = values[k]
            k += 1
    return out
