"""Palette (weight-sharing) tables and their Huffman coding: codebooks, raw streams and
Huffman streams round-trip exactly, for random data and the edge cases."""
import numpy as np
import pytest

from toolchain.encode import huffman, palette
from toolchain.encode.format import PALETTE


def _shared(rng, shape, values, sparsity):
    """An int8 matrix drawing from `values` (nonzero), with `sparsity` zeros."""
    m = rng.choice(np.asarray(values, dtype=np.int8), size=shape)
    m[rng.random(shape) < sparsity] = 0
    return m


@pytest.mark.parametrize("n_values", [1, 2, 3, 4, 7, 8, 15, 16, 31])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.97])
def test_every_palette_format_round_trips(n_values, sparsity):
    rng = np.random.default_rng(n_values * 100 + int(sparsity * 10))
    values = rng.choice(np.r_[-127:0, 1:128], size=n_values, replace=False)
    m = _shared(rng, (13, 301), values, sparsity)
    for enc in palette.ENCODERS:
        if not enc.applicable(m):
            assert enc.sparse and not np.any(m)
            continue
        blob = bytes(12) + enc.encode(m, 12, ram_offset=64)
        assert len(blob) - 12 == enc.table_bytes(m)
        np.testing.assert_array_equal(palette.decode(blob, 12), m, err_msg=enc.NAME)
        h = PALETTE.unpack(blob, 12)
        # codebook of at most 2^bits values; code 0 of palette-csr is the zero filler
        assert len(palette.codebook(m, enc.sparse)) <= 1 << h["bits"]
        if enc.sparse:
            assert blob[h["codebook_offset"]] == 0


def test_codebook_bound_and_long_gaps():
    """32 values fit 5 bits; 33 do not apply. Gaps wider than the step field use fillers."""
    rng = np.random.default_rng(1)
    values = np.r_[-16:0, 1:17]  # 32 nonzero values: with the zero filler 33 codes
    m = _shared(rng, (4, 200), values, 0.5)
    dense, csr = palette.PaletteEncoder(False, 0), palette.PaletteEncoder(True, 0)
    assert not csr.applicable(m)
    assert not dense.applicable(m) if np.count_nonzero(m == 0) else dense.applicable(m)
    m = np.zeros((2, 1000), dtype=np.int8)
    m[0, 999] = 5
    m[1, 0] = -3
    raw = palette.raw_stream(m, sparse=True)
    assert raw.bits == 2  # codebook [0, -3, 5]
    assert raw.counts.tolist() == [999 // 63 + 1, 1]  # 15 fillers of 63 columns, then the weight
    np.testing.assert_array_equal(palette.decode(b"\0" * 4 + csr.encode(m, 4), 4), m)


@pytest.mark.parametrize("seed", range(5))
def test_huffman_round_trip_random(seed):
    rng = np.random.default_rng(seed)
    alphabet = int(rng.integers(2, 257))
    p = rng.dirichlet(np.full(alphabet, 0.3))
    data = bytes(rng.choice(256, size=alphabet, replace=False)[rng.choice(alphabet, 5000, p=p)].astype(np.uint8))
    code = huffman.build_code(data)
    stream = huffman.encode(data, code)
    assert huffman.decode(stream, code.counts, code.symbols, len(data)) == data
    # Kraft: a complete prefix code (or a single symbol's 1-bit code)
    assert sum(2.0 ** -n for n in code.lengths.values()) <= 1.0
    # never worse than fixed-length coding of the symbols present, and near the entropy
    counts = np.bincount(np.frombuffer(data, np.uint8), minlength=256)
    q = counts[counts > 0] / len(data)
    entropy_bits = -(q * np.log2(q)).sum() * len(data)
    assert 8 * len(stream) <= entropy_bits + len(data) + 8


def test_huffman_one_symbol_alphabet():
    data = bytes([7]) * 100
    code = huffman.build_code(data)
    assert code.lengths == {7: 1}
    stream = huffman.encode(data, code)
    assert len(stream) == 13  # 100 bits
    assert huffman.decode(stream, code.counts, code.symbols, 100) == data


def test_huffman_maximum_code_length():
    """Fibonacci frequencies make the deepest possible tree; the limit of 16 bits holds and
    the stream still decodes."""
    fib = [1, 1]
    while len(fib) < 30:
        fib.append(fib[-1] + fib[-2])
    data = b"".join(bytes([s]) * f for s, f in enumerate(fib))
    unlimited = huffman.build_code(data, max_len=64)
    assert max(unlimited.lengths.values()) == 29
    code = huffman.build_code(data)
    assert max(code.lengths.values()) == huffman.MAX_CODE_LEN
    stream = huffman.encode(data, code)
    assert huffman.decode(stream, code.counts, code.symbols, len(data)) == data


def test_huffman_decoder_rejects_bad_streams():
    data = bytes([1, 2, 3, 1, 1])
    code = huffman.build_code(data)
    stream = huffman.encode(data, code)
    with pytest.raises(ValueError):
        huffman.decode(stream[:0], code.counts, code.symbols, len(data))
    one = huffman.build_code(bytes([9, 9]))  # the code "1" is not in a one-symbol table
    with pytest.raises(ValueError):
        huffman.decode(b"\xff", one.counts, one.symbols, 1)


@pytest.mark.parametrize("coding", [palette.CODING_HUFFMAN_INIT, palette.CODING_HUFFMAN_STREAM])
def test_huffman_csr_rows_end_with_a_zero_byte(coding):
    """Huffman-coded palette-csr keeps no counts: each row ends with a 0 byte in the coded
    stream, a few bits a row instead of 16; an empty row is the 0 byte alone."""
    rng = np.random.default_rng(5)
    m = _shared(rng, (40, 300), [-90, -20, 30, 100], 0.97)
    m[7] = 0  # an empty row
    m[8, 0] = 30  # a first entry at column 0: step 0, a non-zero code
    enc = palette.PaletteEncoder(True, coding)
    table = enc.encode(m, 0)
    h = PALETTE.unpack(table, 0)
    raw = palette.raw_stream(m, sparse=True)
    assert h["counts_offset"] == 0 and h["entry_count"] == len(raw.stream)
    assert h["raw_bytes"] == len(raw.stream) + m.shape[0]
    np.testing.assert_array_equal(palette.decode(table, 0), m)
    # the same stream with a counts table (the earlier layout, still read): 80 bytes of
    # counts against a few bits a row
    class WithCounts(palette.PaletteEncoder):
        marked = False

    old = WithCounts(True, coding).encode(m, 0)
    assert PALETTE.unpack(old, 0)["counts_offset"] != 0
    np.testing.assert_array_equal(palette.decode(old, 0), m)
    assert len(table) <= len(old) - m.shape[0]  # at least a byte a row
    if coding == palette.CODING_HUFFMAN_INIT:  # the entries, then counts[rows] the decoder writes
        assert enc.ram_bytes(m) == palette.align(len(raw.stream)) + palette.align(2 * m.shape[0])
