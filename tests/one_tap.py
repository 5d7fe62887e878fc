"""Depthwise kernels pruned to one tap per channel, for the sparse depthwise kernel's tests."""
import numpy as np


def one_tap_kernel(kernel, rng, extra=()):
    """`kernel` (k_h, k_w, c, dm) with one nonzero tap per output channel (at a random place),
    except the channels in `extra`, which keep two."""
    k_h, k_w, c, dm = kernel.shape
    flat = np.zeros((k_h * k_w, c * dm), np.float32)
    for oc in range(c * dm):
        for t in rng.choice(k_h * k_w, 2 if oc in extra else 1, replace=False):
            flat[t, oc] = rng.choice([-1, 1]) * rng.uniform(0.3, 2.0)
    return flat.reshape(k_h, k_w, c, dm)
