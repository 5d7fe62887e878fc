"""Canonical, length-limited Huffman coding of byte streams (the entry streams of the
palette formats, palette.py).

A code is described by count[len] (how many symbols have a code of len bits, len = 1..16)
and the symbols sorted by (code length, symbol value): the canonical assignment gives the
first symbol of each length the next code after the previous length's last, shifted left.
This is the description DEFLATE uses (RFC 1951, 3.2.2); it is all a decoder needs.

Bits are written most significant first, bytes in order; the last byte is padded with zeros.
A one-symbol alphabet gets a 1-bit code ("0") so that every symbol still takes a bit and the
decoder needs no special case.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

MAX_CODE_LEN = 16
LUT_BITS = 8  # the runtime's fast-path table: codes of up to 8 bits decode in one lookup


@dataclass(frozen=True)
class Code:
    lengths: dict[int, int]  # symbol -> code length in bits

    @property
    def counts(self) -> list[int]:
        """count[len] for len = 0..MAX_CODE_LEN (count[0] is 0)."""
        out = [0] * (MAX_CODE_LEN + 1)
        for n in self.lengths.values():
            out[n] += 1
        return out

    @property
    def symbols(self) -> list[int]:
        """Symbols in canonical order: by code length, then by value."""
        return sorted(self.lengths, key=lambda s: (self.lengths[s], s))

    def codes(self) -> dict[int, tuple[int, int]]:
        """symbol -> (code, length)."""
        out, code, prev = {}, 0, 0
        for s in self.symbols:
            n = self.lengths[s]
            code <<= n - prev
            out[s] = (code, n)
            code += 1
            prev = n
        return out


def _lengths(freq: dict[int, int]) -> dict[int, int]:
    """Unlimited Huffman code lengths (ties broken by symbol value, so deterministic)."""
    if len(freq) == 1:
        return {next(iter(freq)): 1}
    heap = [(f, s, (s,)) for s, f in sorted(freq.items())]
    heapq.heapify(heap)
    depth = dict.fromkeys(freq, 0)
    while len(heap) > 1:
        f1, k1, s1 = heapq.heappop(heap)
        f2, k2, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            depth[s] += 1
        heapq.heappush(heap, (f1 + f2, min(k1, k2), s1 + s2))
    return depth


def build_code(data: bytes | np.ndarray, max_len: int = MAX_CODE_LEN) -> Code:
    """The Huffman code of a byte stream's symbol frequencies, no code longer than max_len.

    When the optimal code is too deep, frequencies are halved (rounding up, so no symbol
    disappears) and the code rebuilt: flatter distributions give shallower trees, and a
    count of 1 everywhere gives a balanced tree of ceil(log2(256)) = 8 bits."""
    values, counts = np.unique(np.frombuffer(bytes(data), dtype=np.uint8), return_counts=True)
    if values.size == 0:
        raise ValueError("cannot build a Huffman code for an empty stream")
    freq = {int(v): int(c) for v, c in zip(values, counts)}
    while True:
        lengths = _lengths(freq)
        if max(lengths.values()) <= max_len:
            return Code(lengths)
        freq = {s: (f + 1) // 2 for s, f in freq.items()}


def encode(data: bytes | np.ndarray, code: Code) -> bytes:
    """The bit stream of data under code, MSB first, zero-padded to a whole byte."""
    codes = code.codes()
    out = bytearray()
    acc, nbits = 0, 0
    for b in bytes(data):
        c, n = codes[b]
        acc = (acc << n) | c
        nbits += n
        while nbits >= 8:
            nbits -= 8
            out.append((acc >> nbits) & 0xFF)
        acc &= (1 << nbits) - 1
    if nbits:
        out.append((acc << (8 - nbits)) & 0xFF)
    return bytes(out)


def decode(stream: bytes, counts: list[int], symbols: list[int], n: int) -> bytes:
    """The first n symbols of a stream, from the canonical description (what the C decoder
    does, bit by bit). Raises ValueError on a code that is not in the table or a stream that
    ends early."""
    out = bytearray()
    pos = 0
    total_bits = 8 * len(stream)
    for _ in range(n):
        code = first = index = 0
        for length in range(1, MAX_CODE_LEN + 1):
            if pos >= total_bits:
                raise ValueError("Huffman stream ends inside a code")
            code |= (stream[pos >> 3] >> (7 - (pos & 7))) & 1
            pos += 1
            count = counts[length]
            if code - first < count:
                out.append(symbols[index + code - first])
                break
            index += count
            first = (first + count) << 1
            code <<= 1
        else:
            raise ValueError("invalid Huffman code in stream")
    return bytes(out)
