"""Palette (weight-sharing) formats: a per-layer codebook of at most 2^b int8 values and
b-bit codes, b <= 5 (Deep Compression's trained quantization), dense or sparse, optionally
Huffman coded. One table (format.PALETTE, es_palette_t):

    es_palette_t  shape, offsets, bits, coding
    counts        uint16[rows]       palette-csr, raw only: entries per row, fillers included
    codebook      int8[2^bits]       palette-csr: codebook[0] = 0 (fillers)
    huff_counts   uint16[17]         Huffman only: codes of each length 0..16
    huff_symbols  uint8[symbols]     Huffman only: symbols in canonical order
    stream        the entry stream (raw), or its Huffman bit stream

each array 4-byte aligned. The raw entry streams:

  palette      per row, cols codes packed LSB first into bytes, container_bits (1, 2, 4 or
               8: b rounded up) per code; each row starts on a byte boundary.
  palette-csr  per row, counts[r] bytes, each (step << b) | code: step moves the input
               pointer (the first one from column 0), code picks the weight. A gap longer
               than the 8 - b step bits allow is bridged by filler entries (maximum step,
               code 0, whose weight is 0), as csr8 does with deltas.

Huffman coding (huffman.py) codes the raw stream's bytes: for palette-csr a byte is the
(step, code) pair, for palette 8 / container_bits codes. A Huffman-coded palette-csr stores no
counts (counts_offset 0): each row of its stream ends with a 0 byte (step 0, code 0, which no
entry is: the first entry of a row at column 0 has a non-zero code, fillers a non-zero step),
whose code costs a few bits a row where a count cost 16 (entry_count: the entries;
raw_bytes: the decoded stream, one end byte a row more). The runtime either decodes the
whole stream at init into the arena (coding 1, ram_bytes = raw stream; palette-csr: its
entries, 4-aligned, then the uint16 counts[rows] the decoder writes) and runs the raw kernel
from RAM, or decodes row by row during inference (coding 2, ram_bytes = decode
tables: a 256-entry uint16 lookup, the first code and position of each length; and one row).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from toolchain.encode import format as fmt
from toolchain.encode import huffman
from toolchain.encode.format import PALETTE, WeightFormat, align

MAX_BITS = fmt.PALETTE_MAX_BITS
CODING_RAW, CODING_HUFFMAN_INIT, CODING_HUFFMAN_STREAM = (
    fmt.PALETTE_RAW, fmt.PALETTE_HUFFMAN_INIT, fmt.PALETTE_HUFFMAN_ROWS)
HUFF_COUNTS = huffman.MAX_CODE_LEN + 1
# coding 2's decode tables in the arena: uint16 per 8-bit prefix, then the first code and
# symbol position of each code length (uint16[17] each)
HUFF_TABLE_BYTES = (2 << huffman.LUT_BITS) + 4 * HUFF_COUNTS


def container_bits(bits: int) -> int:
    return {1: 1, 2: 2, 3: 4, 4: 4, 5: 8}[bits]


def codebook(matrix: np.ndarray, sparse: bool) -> np.ndarray:
    """The int8 values codes point to: sorted distinct values (palette), or 0 followed by
    the sorted distinct nonzero values (palette-csr: code 0 is the filler)."""
    values = np.unique(np.asarray(matrix, dtype=np.int8))
    if sparse:
        values = np.concatenate([[0], values[values != 0]]).astype(np.int8)
    return values


def code_bits(n_values: int) -> int:
    return max(1, int(np.ceil(np.log2(max(n_values, 2)))))


@dataclass
class Raw:
    bits: int
    codebook: np.ndarray  # int8[2^bits], padded with zeros
    counts: np.ndarray | None  # uint16[rows], palette-csr only
    stream: bytes
    row_bytes: list[int]


def raw_stream(matrix: np.ndarray, sparse: bool) -> Raw:
    m = np.ascontiguousarray(matrix, dtype=np.int8)
    return _raw_stream(m.tobytes(), m.shape, sparse)


@lru_cache(maxsize=32)  # format choice, cost model and report ask for the same layers' streams
def _raw_stream(data: bytes, shape: tuple[int, int], sparse: bool) -> Raw:
    m = np.frombuffer(data, dtype=np.int8).reshape(shape)
    book = codebook(m, sparse)
    if len(book) > 1 << MAX_BITS:
        raise ValueError(f"{len(book)} distinct values do not fit a {1 << MAX_BITS}-entry codebook")
    bits = code_bits(len(book))
    lookup = np.zeros(256, dtype=np.int64)
    lookup[book.astype(np.int64) + 128] = np.arange(len(book))
    codes = lookup[m.astype(np.int64) + 128]
    padded = np.zeros(1 << bits, dtype=np.int8)
    padded[:len(book)] = book
    if sparse:
        max_step = (1 << (8 - bits)) - 1
        out, counts = bytearray(), []
        for r in range(m.shape[0]):
            prev, n = 0, 0
            for col in np.flatnonzero(m[r]):
                step = int(col) - prev
                while step > max_step:
                    out.append(max_step << bits)
                    step -= max_step
                    n += 1
                out.append((step << bits) | int(codes[r, col]))
                prev, n = int(col), n + 1
            counts.append(n)
        if counts and max(counts) > 0xFFFF:
            raise ValueError(f"a row with {max(counts)} entries does not fit the uint16 row count")
        return Raw(bits, padded, np.array(counts, dtype=np.uint16), bytes(out), counts)
    w = container_bits(bits)
    per_byte = 8 // w
    stride = -(-m.shape[1] // per_byte)
    packed = np.zeros((m.shape[0], stride * per_byte), dtype=np.int64)
    packed[:, :m.shape[1]] = codes
    shifts = np.arange(per_byte) * w
    rows = (packed.reshape(m.shape[0], stride, per_byte) << shifts).sum(axis=2).astype(np.uint8)
    return Raw(bits, padded, None, rows.tobytes(), [stride] * m.shape[0])


class PaletteEncoder:
    """One palette weight format: dense or sparse codes, raw or Huffman coded."""

    def __init__(self, sparse: bool, coding: int):
        self.sparse, self.coding = sparse, coding
        self.FORMAT = WeightFormat.PALETTE_CSR if sparse else WeightFormat.PALETTE
        self.NAME = ("palette-csr" if sparse else "palette") + \
            {CODING_RAW: "", CODING_HUFFMAN_INIT: "+huffman",
             CODING_HUFFMAN_STREAM: "+huffman-stream"}[coding]

    def __repr__(self) -> str:
        return f"<weight format {self.NAME}>"

    def applicable(self, matrix: np.ndarray) -> bool:
        return len(codebook(matrix, self.sparse)) <= 1 << MAX_BITS and \
            (not self.sparse or np.count_nonzero(matrix) > 0)

    @property
    def marked(self) -> bool:
        """Rows end with a 0 entry in the stream instead of a counts table (Huffman palette-csr)."""
        return self.sparse and self.coding != CODING_RAW

    def _layout(self, raw: Raw, rows: int, code: huffman.Code | None, stream: bytes):
        at = {"counts": PALETTE.size}
        counts = self.sparse and not (self.marked and code is not None)
        at["codebook"] = at["counts"] + (align(2 * rows) if counts else 0)
        at["huff_counts"] = at["codebook"] + align(len(raw.codebook))
        at["huff_symbols"] = at["huff_counts"] + (align(2 * HUFF_COUNTS) if code else 0)
        at["stream"] = at["huff_symbols"] + (align(len(code.lengths)) if code else 0)
        at["end"] = at["stream"] + len(stream)
        return at

    def _coded(self, matrix: np.ndarray):
        raw = raw_stream(matrix, self.sparse)
        if self.coding == CODING_RAW or not raw.stream:
            return raw, None, raw.stream
        return (raw, *_huffman(marked_stream(raw) if self.marked else raw.stream))

    def table_bytes(self, matrix: np.ndarray) -> int:
        raw, code, stream = self._coded(matrix)
        return self._layout(raw, matrix.shape[0], code, stream)["end"]

    def ram_bytes(self, matrix: np.ndarray) -> int:
        """Arena bytes the layer keeps for itself (decoded stream, or decode table and row)."""
        if self.coding == CODING_RAW:
            return 0
        raw = raw_stream(matrix, self.sparse)
        if self.coding == CODING_HUFFMAN_INIT:
            return align(len(raw.stream)) + (align(2 * matrix.shape[0]) if self.marked else 0)
        return HUFF_TABLE_BYTES + align(max(raw.row_bytes, default=0))

    def info(self, matrix: np.ndarray) -> dict:
        """bits per code and per step (index), for the compression report."""
        bits = code_bits(len(codebook(matrix, self.sparse)))
        return {"codebook_bits": bits, "index_bits": 8 - bits if self.sparse else None}

    def encode(self, matrix: np.ndarray, base_offset: int, ram_offset: int = 0,
               ram_extra: int = 0) -> bytes:
        """The table at blob offset base_offset; ram_extra: arena bytes kept after what the
        decoder keeps (a LAYER_BIAS_FOLD layer's folded bias, 4 a row)."""
        raw, code, stream = self._coded(matrix)
        rows, cols = matrix.shape
        at = self._layout(raw, rows, code, stream)
        coding = self.coding if code is not None else CODING_RAW
        marked = self.marked and code is not None
        out = bytearray(at["end"])
        out[:PALETTE.size] = PALETTE.pack(
            rows=rows, cols=cols, entry_count=len(raw.stream) if self.sparse else rows * cols,
            counts_offset=base_offset + at["counts"] if self.sparse and not marked else 0,
            codebook_offset=base_offset + at["codebook"], stream_offset=base_offset + at["stream"],
            stream_bytes=len(stream), raw_bytes=len(raw.stream) + (rows if marked else 0),
            huff_counts_offset=base_offset + at["huff_counts"] if code else 0,
            huff_symbols_offset=base_offset + at["huff_symbols"] if code else 0,
            ram_offset=ram_offset if coding else 0,
            ram_bytes=self.ram_bytes(matrix) + ram_extra if coding else 0,
            bits=raw.bits, coding=coding, symbol_count=len(code.lengths) if code else 0)
        if self.sparse and not marked:
            out[at["counts"]:at["counts"] + 2 * rows] = raw.counts.astype("<u2").tobytes()
        out[at["codebook"]:at["codebook"] + len(raw.codebook)] = raw.codebook.tobytes()
        if code:
            out[at["huff_counts"]:at["huff_counts"] + 2 * HUFF_COUNTS] = \
                np.array(code.counts, dtype="<u2").tobytes()
            out[at["huff_symbols"]:at["huff_symbols"] + len(code.lengths)] = bytes(code.symbols)
        out[at["stream"]:at["end"]] = stream
        return bytes(out)


def marked_stream(raw: Raw) -> bytes:
    """A palette-csr stream with a 0 byte after each row (the Huffman-coded form)."""
    out, k = bytearray(), 0
    for n in raw.row_bytes:
        row = raw.stream[k:k + n]
        if 0 in row:
            raise AssertionError("a palette-csr entry is 0, the end-of-row byte")
        out += row + b"\0"
        k += n
    return bytes(out)


@lru_cache(maxsize=32)
def _huffman(stream: bytes) -> tuple[huffman.Code, bytes]:
    code = huffman.build_code(stream)
    return code, huffman.encode(stream, code)


def decode(blob: bytes, offset: int) -> np.ndarray:
    """The int8 matrix a palette table at blob[offset:] describes (any coding)."""
    h = PALETTE.unpack(blob, offset)
    rows, cols, bits = h["rows"], h["cols"], h["bits"]
    book = np.frombuffer(blob, dtype=np.int8, count=1 << bits, offset=h["codebook_offset"])
    stream = bytes(blob[h["stream_offset"]:h["stream_offset"] + h["stream_bytes"]])
    if h["coding"] != CODING_RAW:
        counts = list(np.frombuffer(blob, dtype="<u2", count=HUFF_COUNTS, offset=h["huff_counts_offset"]))
        symbols = list(blob[h["huff_symbols_offset"]:h["huff_symbols_offset"] + h["symbol_count"]])
        stream = huffman.decode(stream, counts, symbols, h["raw_bytes"])
    out = np.zeros((rows, cols), dtype=np.int8)
    # a Huffman-coded palette-csr has no counts: its rows end with a 0 byte (a palette's
    # raw bytes, rows * ceil(cols / codes per byte), are never entries + rows)
    marked = h["coding"] != CODING_RAW and not h["counts_offset"] and \
        h["raw_bytes"] == h["entry_count"] + rows
    if marked:
        ends = [i for i, e in enumerate(stream) if e == 0]
        if len(ends) != rows or (ends and ends[-1] != len(stream) - 1):
            raise ValueError(f"{len(ends)} row ends in the stream of a {rows}-row table")
        counts = np.diff([-1, *ends]) - 1
        stream = bytes(e for e in stream if e != 0)
    elif h["counts_offset"]:
        counts = np.frombuffer(blob, dtype="<u2", count=rows, offset=h["counts_offset"])
    if marked or h["counts_offset"]:
        k = 0
        for r in range(rows):
            col = 0
            for e in stream[k:k + int(counts[r])]:
                col += e >> bits
                if e & ((1 << bits) - 1):
                    out[r, col] = book[e & ((1 << bits) - 1)]
            k += int(counts[r])
        return out
    w = container_bits(bits)
    per_byte = 8 // w
    stride = -(-cols // per_byte)
    data = np.frombuffer(stream, dtype=np.uint8).reshape(rows, stride).astype(np.int64)
    codes = (data[:, :, None] >> (np.arange(per_byte) * w)) & ((1 << w) - 1)
    return book[codes.reshape(rows, -1)[:, :cols]]


ENCODERS = tuple(PaletteEncoder(s, c) for c in (CODING_RAW, CODING_HUFFMAN_INIT,
                                                 CODING_HUFFMAN_STREAM) for s in (False, True))
