"""Round trips of the CSR16, block 1x4 and 2:4 encoders, their applicability rules and
table sizes, on random matrices of many shapes and sparsities."""
import numpy as np
import pytest

from toolchain.encode import block, csr, csr16, nm, patterns, sparse
from toolchain.encode.format import SPARSE


def _matrix(rng, rows, cols, density):
    m = rng.integers(-127, 128, size=(rows, cols)).astype(np.int8)
    m[rng.random((rows, cols)) > density] = 0
    return m


@pytest.mark.parametrize("seed", range(12))
def test_round_trips(seed):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 40)), 4 * int(rng.integers(1, 90))
    density = float(rng.choice([0.0, 0.05, 0.3, 0.5, 1.0]))
    m = _matrix(rng, rows, cols, density)
    base = 8 * int(rng.integers(0, 100))
    for enc in (csr, csr16, block):
        table = enc.encode(m, base)
        assert len(table) == enc.table_bytes(m)
        assert np.array_equal(enc.decode(bytes(base) + table, base), m), enc.NAME
    structured = (m * patterns.nm_mask(m, 2, 4)).astype(np.int8)
    assert nm.applicable(structured)
    table = nm.encode(structured, base)
    assert len(table) == nm.table_bytes(structured)
    assert np.array_equal(nm.decode(bytes(base) + table, base), structured)


def test_nm_codes_cover_every_position_pair():
    m = np.zeros((1, 4 * 10), dtype=np.int8)
    singles_and_pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (0,), (3,), (), (2,)]
    for g, pos in enumerate(singles_and_pairs):
        for k, p in enumerate(pos):
            m[0, 4 * g + p] = 5 * (k + 1) * (-1) ** g
    a = nm.arrays(m)
    assert a.index.tolist()[:6] == [24 * g + 4 * g for g in range(6)]
    assert a.index[6] == 24 * 6 and a.index[7] == 24 * 7 + 20  # (0,1) for a lone 0, (2,3) for 3
    assert np.array_equal(nm.decode(bytes(nm.encode(m, 0)), 0), m)


def test_nm_rejects_three_in_a_group_and_odd_widths():
    m = np.zeros((2, 8), dtype=np.int8)
    m[1, 4:7] = 1
    assert not nm.applicable(m)
    assert not nm.applicable(np.zeros((2, 6), dtype=np.int8))
    with pytest.raises(ValueError, match="2:4"):
        nm.arrays(m)


def test_block_keeps_whole_blocks_and_sizes():
    m = np.zeros((3, 16), dtype=np.int8)
    m[0, 5] = 7      # block 1 of row 0, kept whole with its zeros
    m[2, 12:16] = [1, -2, 3, -4]
    a = block.arrays(m)
    assert a.counts.tolist() == [1, 0, 1] and a.index.tolist() == [4, 12]
    assert a.values.tolist() == [0, 7, 0, 0, 1, -2, 3, -4]
    assert block.table_bytes(m) == SPARSE.size + 8 + 4 + 8
    assert not block.applicable(np.zeros((2, 6), dtype=np.int8))


def test_csr16_is_one_byte_per_weight_more_than_csr8_without_fillers():
    rng = np.random.default_rng(3)
    m = _matrix(rng, 30, 200, 0.2)  # gaps < 255: no CSR8 fillers
    n = int(np.count_nonzero(m))
    assert sparse.table_bytes(csr16.arrays(m)) - sparse.table_bytes(csr.arrays(m)) in \
        range(n - 3, n + 4)
