"""csr8+huffman: the CSR8 layout (csr.py) with its column deltas and its int8 values each coded
with a canonical Huffman code of its own (huffman.py), for plain int8 weights (no codebook).
The runtime decodes both streams once at init into the arena, where the CSR8 kernels read
them as if from a raw CSR8 table (format.CSR8_HUFFMAN, es_csr8_huffman_t):

    es_csr8_huffman_t  shape, entry_count, arena offsets, then per stream (index: the deltas;
                       values) its code's counts, symbols and bit stream
    index code         uint16[17] codes per length, uint8[symbols] in canonical order
    values code        the same
    index stream       per row, each entry's delta + 1, then a 0 ending the row
    values stream      each entry's int8 value

each array 4-byte aligned. The rows end in the index stream instead of a uint16 count per row
(the end costs a few bits a row): a delta is stored plus one, so gaps over 254 columns are
bridged by fillers of 254 (value 0). The arena region (ram_offset, ram_bytes) holds what the
decoder writes, each part 4-aligned: the deltas, uint8[entry_count]; the values,
int8[entry_count]; the row counts, uint16[rows]; then, for a LAYER_BIAS_FOLD layer, the folded
int32 bias, the last 4 * rows bytes of the region (blob.bias_folds).

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
MAX_DELTA = 254  # stored plus one in a byte; 0 ends a row


@lru_cache(maxsize=32)  # format choice, cost model and blob ask for the same layers' streams
def _coded(data: bytes, shape: tuple[int, int]):
    m = np.frombuffer(data, dtype=np.int8).reshape(shape)
    counts, deltas, values = csr.entries(m, MAX_DELTA)
    marked, k = bytearray(), 0
    for n in counts:
        marked += (deltas[k:k + int(n)].astype(np.int64) + 1).astype(np.uint8).tobytes() + b"\0"
        k += int(n)
    codes = {"index": bytes(marked), "values": values.tobytes()}
    coded = {name: (code := huffman.build_code(raw), huffman.encode(raw, code))
             for name, raw in codes.items() if raw}
    return len(deltas), coded


def _parts(matrix: np.ndarray):
    m = np.ascontiguousarray(matrix, dtype=np.int8)
    return _coded(m.tobytes(), m.shape)


def _layout(codes: dict) -> dict[str, int]:
    at, pos = {}, CSR8_HUFFMAN.size
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
    return _layout(_parts(matrix)[1])["end"]


def ram_bytes(matrix: np.ndarray) -> int:
    """Arena bytes the decoder writes and the kernels read: deltas, values, row counts."""
    n = _parts(matrix)[0]
    return 2 * align(n) + align(2 * matrix.shape[0])


def encode(matrix: np.ndarray, base_offset: int, ram_offset: int = 0, ram_extra: int = 0) -> bytes:
    """The table at blob offset base_offset; ram_extra: arena bytes kept after what the
    decoder writes (a LAYER_BIAS_FOLD layer's folded bias, 4 a row)."""
    n, codes = _parts(matrix)
    rows, cols = matrix.shape
    at = _layout(codes)
    out = bytearray(at["end"])
    fields = dict(rows=rows, cols=cols, entry_count=n, ram_offset=ram_offset,
                  ram_bytes=ram_bytes(matrix) + ram_extra)
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
    return bytes(out)


def _stream(blob: bytes, h: dict, name: str, n: int) -> bytes:
    code_counts = list(np.frombuffer(blob, dtype="<u2", count=HUFF_COUNTS, offset=h[f"{name}_counts_offset"]))
    sym = h[f"{name}_symbols_offset"]
    symbols = list(blob[sym:sym + h[f"{name}_symbol_count"]])
    at = h[f"{name}_stream_offset"]
    return huffman.decode(bytes(blob[at:at + h[f"{name}_stream_bytes"]]), code_counts, symbols, n)


def decode(blob: bytes, offset: int) -> np.ndarray:
    """The dense matrix a csr8+huffman table at blob[offset:] describes."""
    h = CSR8_HUFFMAN.unpack(blob, offset)
    rows, cols, n = h["rows"], h["cols"], h["entry_count"]
    index = _stream(blob, h, "index", n + rows)
    values = np.frombuffer(_stream(blob, h, "values", n), dtype=np.int8) if n else []
    out = np.zeros((rows, cols), dtype=np.int8)
    r = col = k = 0
    for s in index:
        if s == 0:
            r, col = r + 1, 0
            continue
        col += s - 1
        if values[k]:
            out[r, col] = values[k]
        k += 1
    if r != rows or k != n:
        raise ValueError(f"{r} row ends and {k} entries in a table of {rows} rows and {n} entries")
    return out
