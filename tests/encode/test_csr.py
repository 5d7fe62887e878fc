"""CSR8 encode/decode round trips, fillers for wide gaps, and table sizes."""
import numpy as np
import pytest

from toolchain.encode import csr, dense


def _sparse(rng, rows, cols, sparsity):
    m = rng.integers(-127, 128, size=(rows, cols)).astype(np.int8)
    m[rng.random((rows, cols)) < sparsity] = 0
    return m


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.8, 0.95, 0.999, 1.0])
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (300, 784), (4, 1000)])
def test_round_trip(shape, sparsity):
    rng = np.random.default_rng(hash((shape, sparsity)) % 2**32)
    m = _sparse(rng, *shape, sparsity)
    base = 64
    table = csr.encode(m, base)
    assert len(table) == csr.table_bytes(m)
    blob = bytes(base) + table
    np.testing.assert_array_equal(csr.decode(blob, base), m)


def test_wide_gaps_use_filler_entries():
    m = np.zeros((3, 1200), dtype=np.int8)
    m[0, 0] = 5          # first column itself: delta 0, no filler
    m[0, 1199] = -7      # gap 1199 = 4*255 + 179: four fillers
    m[1, 255] = 1        # exactly 255: no filler
    m[1, 256] = 2
    m[2, 600] = 3        # 600 = 2*255 + 90: two fillers
    counts, deltas, values = csr.entries(m)
    assert counts.tolist() == [1 + 4 + 1, 2, 2 + 1]
    assert deltas[:6].tolist() == [0, 255, 255, 255, 255, 179]
    assert values[:6].tolist() == [5, 0, 0, 0, 0, -7]
    assert deltas[6:8].tolist() == [255, 1] and values[6:8].tolist() == [1, 2]
    assert deltas[8:].tolist() == [255, 255, 90] and values[8:].tolist() == [0, 0, 3]
    np.testing.assert_array_equal(csr.decode(bytes(csr.encode(m, 0)), 0), m)


def test_sizes_track_sparsity():
    rng = np.random.default_rng(1)
    m = _sparse(rng, 300, 784, 0.8)
    nnz = np.count_nonzero(m)
    # 2 bytes per stored weight (delta + value) plus a 2-byte count per row and a header
    assert 2 * nnz <= csr.table_bytes(m) <= 2 * nnz + 2 * 300 + 64 + 2 * 300 * 4
    assert csr.table_bytes(m) < dense.table_bytes(m)
    full = _sparse(rng, 300, 784, 0.0)
    assert csr.table_bytes(full) > dense.table_bytes(full)


def test_dense_round_trip():
    m = _sparse(np.random.default_rng(2), 5, 9, 0.3)
    np.testing.assert_array_equal(dense.decode(dense.encode(m, 0), 0, 5, 9), m)
