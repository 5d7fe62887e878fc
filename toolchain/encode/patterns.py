"""Sparsity patterns of a 2-D weight matrix in kernel order ([out, reduction]): masks that
impose a pattern and checks that detect one. Plain numpy, no TensorFlow.

The kernels read weights row by row, one row per output channel, along the reduction
dimension (FC inputs; conv k_h*k_w*in_c in OHWI order). Structured patterns are defined
along that dimension, so what pruning produces is exactly what the kernels consume:
  - N:M: in every group of M consecutive weights of a row at most N are nonzero
    (the last group of a row may be shorter than M);
  - block bh x bw: zeros come in whole aligned blocks of bh rows by bw columns.

keras_rows / keras_from_rows convert between Keras kernels (Dense [in, out], Conv2D
[kh, kw, in, out]) and this order.
"""
from __future__ import annotations

import numpy as np


def keras_rows(kernel: np.ndarray) -> np.ndarray:
    """Keras Dense [in, out] or Conv2D [kh, kw, in, out] kernel -> [out, reduction]."""
    k = np.asarray(kernel)
    if k.ndim == 2:
        return k.T
    if k.ndim == 4:
        return k.transpose(3, 0, 1, 2).reshape(k.shape[3], -1)
    raise ValueError(f"expected a 2-D or 4-D kernel, got shape {k.shape}")


def keras_from_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of keras_rows for a kernel of the given Keras shape."""
    r = np.asarray(rows)
    if len(shape) == 2:
        return r.T.reshape(shape)
    if len(shape) == 4:
        kh, kw, cin, cout = shape
        return r.reshape(cout, kh, kw, cin).transpose(1, 2, 3, 0)
    raise ValueError(f"expected a 2-D or 4-D kernel shape, got {shape}")


def unstructured_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Keeps the largest-magnitude weights of the whole matrix; round(sparsity * size) zeros."""
    _check_sparsity(sparsity)
    flat = np.abs(np.asarray(w, dtype=np.float64)).ravel()
    n_zero = int(round(sparsity * flat.size))
    mask = np.ones(flat.size, dtype=bool)
    if n_zero:
        mask[np.argsort(flat, kind="stable")[:n_zero]] = False
    return mask.reshape(np.shape(w))


def nm_mask(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Keeps the n largest-magnitude weights of every group of m consecutive weights per row."""
    if not 0 < n <= m:
        raise ValueError(f"N:M needs 0 < N <= M, got {n}:{m}")
    a = np.abs(np.asarray(w, dtype=np.float64))
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D [out, reduction] matrix, got shape {a.shape}")
    rows, cols = a.shape
    padded = -(-cols // m) * m
    grouped = np.full((rows, padded), -1.0)
    grouped[:, :cols] = a
    grouped = grouped.reshape(rows, padded // m, m)
    order = np.argsort(-grouped, axis=2, kind="stable")
    keep = np.zeros_like(grouped, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return keep.reshape(rows, padded)[:, :cols]


def block_mask(w: np.ndarray, bh: int, bw: int, sparsity: float) -> np.ndarray:
    """Zeros whole aligned bh x bw blocks, smallest L1 norm first, round(sparsity * blocks) of
    them. Edge blocks of a matrix not divisible by the block shape are partial."""
    _check_sparsity(sparsity)
    a = np.abs(np.asarray(w, dtype=np.float64))
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D [out, reduction] matrix, got shape {a.shape}")
    rows, cols = a.shape
    br, bc = -(-rows // bh), -(-cols // bw)
    padded = np.zeros((br * bh, bc * bw))
    padded[:rows, :cols] = a
    norms = padded.reshape(br, bh, bc, bw).sum(axis=(1, 3)).ravel()
    n_zero = int(round(sparsity * norms.size))
    keep = np.ones(norms.size, dtype=bool)
    if n_zero:
        keep[np.argsort(norms, kind="stable")[:n_zero]] = False
    full = np.repeat(np.repeat(keep.reshape(br, bc), bh, axis=0), bw, axis=1)
    return full[:rows, :cols]


def is_nm(w: np.ndarray, n: int, m: int) -> bool:
    """True when every group of m consecutive weights of each row holds at most n nonzeros."""
    nz = np.asarray(w) != 0
    rows, cols = nz.shape
    padded = np.zeros((rows, -(-cols // m) * m), dtype=bool)
    padded[:, :cols] = nz
    return bool((padded.reshape(rows, -1, m).sum(axis=2) <= n).all())


def nonzero_blocks(w: np.ndarray, bh: int, bw: int) -> np.ndarray | None:
    """Boolean [row blocks, col blocks] map of the blocks holding a nonzero, or None if the
    matrix's shape does not divide into bh x bw blocks."""
    nz = np.asarray(w) != 0
    rows, cols = nz.shape
    if rows % bh or cols % bw:
        return None
    return nz.reshape(rows // bh, bh, cols // bw, bw).any(axis=(1, 3))


def sparsity(w: np.ndarray) -> float:
    a = np.asarray(w)
    return 1.0 - np.count_nonzero(a) / a.size if a.size else 0.0


def _check_sparsity(s: float) -> None:
    if not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {s}")


def zeros_in_whole_blocks(w: np.ndarray, bh: int, bw: int) -> bool:
    """True when every zero of the matrix lies in an aligned bh x bw block that is zero
    throughout. Edge blocks of a matrix not divisible by the block shape are partial: only
    their real elements count."""
    z = np.asarray(w) == 0
    if z.ndim != 2:
        raise ValueError(f"expected a 2-D [out, reduction] matrix, got shape {z.shape}")
    rows, cols = z.shape
    br, bc = -(-rows // bh), -(-cols // bw)
    padded = np.ones((br * bh, bc * bw), dtype=bool)
    padded[:rows, :cols] = z
    whole = padded.reshape(br, bh, bc, bw).all(axis=(1, 3))
    expanded = np.repeat(np.repeat(whole, bh, axis=0), bw, axis=1)[:rows, :cols]
    return bool((z == expanded).all())
