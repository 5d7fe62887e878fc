"""Keras weights every weight format can hold, for tests (and the fuzz seed corpus) that force
a format: a forced format that does not apply to a layer is built dense there (or refused,
with force_strict), so a test that means to run a format must give its layers weights that
suit it.

suit_every_format() gives each Dense / Conv2D kernel (depthwise kernels stay dense in the
runtime) at once:
  - 1x4 blocks: about half of the aligned blocks of four weights of a row are zero (block1x4
    skips them);
  - 2:4: at most two nonzeros in every group of four, some groups one (nm2:4);
  - a dead row (an output channel with no weights: zero counts in every sparse format) and,
    where a row is long enough, a row whose two nonzero runs lie more than 255 columns apart
    (csr8 and palette-csr bridge the gap with filler entries);
  - shared weights: the nonzeros clustered to 2^b - 1 values (b = 1..5 across layers, so
    every palette code container, 1, 2, 4 and 8 bits, is used). Converted with
    to_int8_tflite(per_tensor=True), each layer's int8 weights take at most 2^b values, so
    the palette formats (raw and Huffman coded) apply too.
The layers' reduction length (Dense inputs, conv k_h * k_w * in_c) must be a multiple of 4.
"""
from __future__ import annotations

import numpy as np

from toolchain.encode import patterns

CODEBOOK_BITS = (3, 1, 5, 2, 4)  # per shareable layer, cyclically
LONG_GAP = 256  # csr8 bridges a column step over 255 with fillers


def suit_every_format(model, rng: np.random.Generator, bits=CODEBOOK_BITS,
                      block_sparsity: float = 0.5) -> dict[str, int]:
    """Reshapes every shareable kernel of `model` in place as above; returns the codebook bits
    given to each layer (by Keras layer name)."""
    from toolchain.quantize.sharing import cluster_kernel, shareable_layers

    chosen = {}
    for i, layer in enumerate(shareable_layers(model)):
        ws = layer.get_weights()
        rows = patterns.keras_rows(ws[0]) * rng.uniform(0.5, 2.0)
        if rows.shape[1] % 4:
            raise ValueError(f"layer {layer.name}: reduction length {rows.shape[1]} is not a "
                             "multiple of 4; 2:4 and 1x4 blocks need one")
        mask = patterns.nm_mask(rows, 2, 4) & patterns.block_mask(rows, 1, 4, block_sparsity)
        mask &= rng.random(rows.shape) >= 0.15  # some 2:4 groups keep one weight
        if rows.shape[0] > 2:
            mask[0] = False  # a dead output channel
        if rows.shape[1] >= LONG_GAP + 8:
            mask[1] = False
            mask[1, :2] = mask[1, -2:] = True  # nonzeros more than 255 columns apart
        # keep the activations' scale despite the zeros (a constant output hides a wrong kernel)
        rows = rows * mask * np.sqrt(mask.size / max(1, np.count_nonzero(mask)))
        kernel = patterns.keras_from_rows(rows, ws[0].shape).astype(np.float32)
        b = bits[i % len(bits)]
        ws[0] = cluster_kernel(layer.name, kernel, b, "linear", seed=i).kernel()
        layer.set_weights(ws)
        chosen[layer.name] = b
    return chosen
