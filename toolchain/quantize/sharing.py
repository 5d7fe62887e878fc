"""Weight sharing (Deep Compression's trained quantization): each Dense / Conv2D kernel is
clustered to a codebook of 2^b values, b = 1..5 per layer, and the centroids are then
fine-tuned with the summed gradients of their cluster's weights.

Pruned zeros stay zero and take one codebook entry (the palette-csr filler code), so a
pruned layer gets 2^b - 1 trained centroids and an unpruned one 2^b. Converting the shared
model with one weight scale per tensor (convert.to_int8_tflite(per_tensor=True)) keeps the
int8 weights of every layer to at most 2^b distinct values, which the palette formats store
as b-bit codes.

Centroid initialisation (Han et al. compared the first three; linear worked best):
  linear    evenly spaced between the smallest and largest weight;
  density   evenly spaced in the weights' cumulative distribution (quantiles);
  forgy     k distinct weights drawn at random;
  kmeans++  the first at random, each next drawn with probability proportional to the
            squared distance to the nearest centroid so far.
Then Lloyd iterations in one dimension until no weight changes cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.errors import ToolchainError

INITS = ("linear", "density", "forgy", "kmeans++")
MIN_BITS, MAX_BITS = 1, 5
AUTO_BITS = (2, 3, 4, 5)
HOLDOUT_FRACTION = 0.2  # of the training split, held out to choose codebook bits ("auto")


def init_centroids(values: np.ndarray, k: int, method: str, rng: np.random.Generator) -> np.ndarray:
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise ValueError("no weights to cluster")
    k = min(k, np.unique(v).size)
    if method == "linear":
        return np.linspace(v[0], v[-1], k)
    if method == "density":
        return np.unique(np.quantile(v, (np.arange(k) + 0.5) / k))
    if method == "forgy":
        return np.sort(rng.choice(np.unique(v), size=k, replace=False))
    if method == "kmeans++":
        c = [rng.choice(v)]
        for _ in range(k - 1):
            d2 = np.min((v[:, None] - np.array(c)[None, :]) ** 2, axis=1)
            if d2.sum() == 0:
                break
            c.append(rng.choice(v, p=d2 / d2.sum()))
        return np.sort(np.array(c))
    raise ValueError(f"unknown centroid initialisation {method!r} (known: {', '.join(INITS)})")


def kmeans_1d(values: np.ndarray, centroids: np.ndarray, iters: int = 100
              ) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's algorithm on scalars: (centroids, index of each value's centroid)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    c = np.sort(np.asarray(centroids, dtype=np.float64))
    assign = None
    for _ in range(iters):
        edges = (c[1:] + c[:-1]) / 2
        new = np.searchsorted(edges, v)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        sums = np.bincount(assign, weights=v, minlength=c.size)
        counts = np.bincount(assign, minlength=c.size)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
    keep = np.unique(assign)  # drop centroids that lost every weight
    remap = np.zeros(c.size, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    return c[keep], remap[assign]


@dataclass(frozen=True)
class ShareSpec:
    """What `compile --share-weights` asks for: bits per layer (1..5) or "auto"."""

    bits: int | str = "auto"
    init: str = "linear"
    epochs: int = 5
    lr: float = 1e-3
    max_drop: float = 0.0025  # auto: accuracy a layer's sharing may cost (fraction)


@dataclass
class SharedLayer:
    """One shared kernel: weight i is centroids[index[i]] where mask[i], else 0."""

    name: str
    bits: int
    centroids: np.ndarray  # float32[k]
    index: np.ndarray  # int32, the kernel's shape
    mask: np.ndarray  # bool, the kernel's shape (False: pruned zero)

    def kernel(self) -> np.ndarray:
        return np.where(self.mask, self.centroids[self.index], 0).astype(np.float32)


def cluster_kernel(name: str, kernel: np.ndarray, bits: int, init: str = "linear",
                   seed: int = 0) -> SharedLayer:
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ToolchainError(f"layer {name!r}: {bits} codebook bits; weight sharing takes "
                             f"{MIN_BITS}..{MAX_BITS}")
    kernel = np.asarray(kernel, dtype=np.float32)
    mask = kernel != 0
    pruned = not mask.all()
    k = (1 << bits) - (1 if pruned else 0)
    values = kernel[mask]
    if values.size == 0:
        return SharedLayer(name, bits, np.zeros(1, np.float32), np.zeros(kernel.shape, np.int32), mask)
    rng = np.random.default_rng(seed)
    centroids, assign = kmeans_1d(values, init_centroids(values, k, init, rng))
    index = np.zeros(kernel.shape, dtype=np.int32)
    index[mask] = assign
    return SharedLayer(name, bits, centroids.astype(np.float32), index, mask)


def shareable_layers(model) -> list:
    """Dense and Conv2D layers (depthwise kernels stay dense in the runtime)."""
    import tf_keras as keras

    return [layer for layer in model.layers
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
            and not isinstance(layer, keras.layers.DepthwiseConv2D)]


@dataclass
class Holdout:
    """A validation split carved off the training split before anything trains on it."""

    x: np.ndarray
    y: np.ndarray
    dataset: str
    fraction: float
    seed: int
    train_samples: int  # what training, pruning and fine-tuning keep

    def describe(self) -> dict:
        """What report.json records as the split the codebook bits were chosen on."""
        return {"split": "validation", "samples": int(len(self.y)),
                "train_samples": int(self.train_samples), "fraction": self.fraction,
                "seed": self.seed,
                "source": f"{self.fraction:.0%} of the training split of {self.dataset}, "
                          f"stratified by label (seed {self.seed}), held out before training: "
                          "training, pruning and centroid fine-tuning use the rest"}


def holdout_split(ds, fraction: float = HOLDOUT_FRACTION, seed: int = 0):
    """(ds with a smaller training split, Holdout): `fraction` of ds's training split (at
    least 1 sample), stratified by label when every class can be, chosen by `seed`, and
    removed from the training split; the test split is unchanged. Deterministic."""
    from dataclasses import replace

    from sklearn.model_selection import train_test_split

    if ds.y_train is None:
        raise ToolchainError(f"dataset {ds.name!r} has no labels ('y'): choosing codebook bits "
                             "measures accuracy; pass --share-weights BITS instead of auto")
    n = len(ds.x_train)
    if n < 2:
        raise ToolchainError(f"dataset {ds.name!r}: {n} training sample(s); choosing codebook bits "
                             "holds some out and needs at least 2; pass --share-weights BITS")
    n_val = min(n - 1, max(1, int(round(fraction * n))))
    idx = np.arange(n)
    try:
        train_idx, val_idx = train_test_split(idx, test_size=n_val, random_state=seed,
                                              stratify=ds.y_train)
    except ValueError:  # a class too small to split, or fewer held-out samples than classes
        train_idx, val_idx = train_test_split(idx, test_size=n_val, random_state=seed)
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)
    rest = replace(ds, x_train=ds.x_train[train_idx], y_train=ds.y_train[train_idx])
    return rest, Holdout(ds.x_train[val_idx], ds.y_train[val_idx], ds.name, fraction, seed,
                         len(train_idx))


def _accuracy(model, x, y) -> float:
    from toolchain.models.train import evaluate

    return evaluate(model, x, y)


def choose_bits(model, x_val: np.ndarray, y_val: np.ndarray, init: str = "linear",
                max_drop: float = 0.005, seed: int = 0, progress=None) -> dict[str, int]:
    """Per layer in order, the fewest bits in AUTO_BITS whose sharing (before fine-tuning,
    with the layers before it already shared at their chosen bits) keeps the accuracy on
    (x_val, y_val) within max_drop of the unshared model's; 5 if none does. Choosing layer by
    layer on top of the earlier choices keeps the drops from adding up unseen."""
    base = _accuracy(model, x_val, y_val)
    chosen, saved = {}, []
    for layer in shareable_layers(model):
        ws = layer.get_weights()
        saved.append((layer, ws))
        chosen[layer.name] = AUTO_BITS[-1]
        for bits in AUTO_BITS:
            shared = cluster_kernel(layer.name, ws[0], bits, init, seed)
            layer.set_weights([shared.kernel(), *ws[1:]])
            acc = _accuracy(model, x_val, y_val)
            if progress:
                progress(layer.name, bits, acc, base)
            if base - acc <= max_drop:
                chosen[layer.name] = bits
                break
        if chosen[layer.name] == AUTO_BITS[-1]:
            layer.set_weights([cluster_kernel(layer.name, ws[0], AUTO_BITS[-1], init, seed).kernel(),
                               *ws[1:]])
    for layer, ws in saved:
        layer.set_weights(ws)
    return chosen


@dataclass
class SharingResult:
    layers: list[SharedLayer]
    history: list[dict] = field(default_factory=list)  # per fine-tune epoch: loss, accuracy


def share_weights(model, ds, bits: int | dict[str, int], init: str = "linear", epochs: int = 3,
                  lr: float = 1e-4, seed: int = 0, batch_size: int = 32) -> SharingResult:
    """Cluster every shareable layer's kernel (bits: one value, or per layer name), then
    fine-tune the centroids for `epochs`: each centroid moves by the summed gradient of the
    weights in its cluster (Adam), biases and other weights train as usual, pruned zeros stay
    zero. The model is changed in place and left holding the shared weights."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    layers = shareable_layers(model)
    shared: list[SharedLayer] = []
    for layer in layers:
        b = bits if isinstance(bits, int) else bits.get(layer.name, MAX_BITS)
        ws = layer.get_weights()
        s = cluster_kernel(layer.name, ws[0], b, init, seed)
        layer.set_weights([s.kernel(), *ws[1:]])
        shared.append(s)
    result = SharingResult(shared)
    if epochs <= 0 or ds.y_train is None:
        return result

    centroids = [tf.Variable(s.centroids, name=f"{s.name}_centroids") for s in shared]
    index = [tf.constant(s.index) for s in shared]
    mask = [tf.constant(s.mask, dtype=tf.float32) for s in shared]
    kernels = [layer.kernel for layer in layers]
    kernel_ids = {id(k) for k in kernels}
    others = [v for v in model.trainable_variables if id(v) not in kernel_ids]
    opt = keras.optimizers.Adam(learning_rate=lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, kernels + others)
        cgrads = [tf.math.unsorted_segment_sum(tf.reshape(g * m, [-1]), tf.reshape(i, [-1]),
                                               tf.shape(c)[0])
                  for g, m, i, c in zip(grads[:len(kernels)], mask, index, centroids)]
        opt.apply_gradients(zip(cgrads + grads[len(kernels):], centroids + others))
        for k, c, i, m in zip(kernels, centroids, index, mask):
            k.assign(tf.gather(c, i) * m)
        return loss

    rng = np.random.default_rng(seed)
    x_train, y_train = ds.x_train.astype(np.float32), ds.y_train
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        losses = [float(step(x_train[order[i:i + batch_size]], y_train[order[i:i + batch_size]]))
                  for i in range(0, len(order), batch_size)]
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses))}
        if ds.y_test is not None:
            entry["accuracy"] = _accuracy(model, ds.x_test, ds.y_test)
        result.history.append(entry)
    for s, c in zip(shared, centroids):
        s.centroids = c.numpy()
    return result


def distinct_values(weights: np.ndarray) -> int:
    return int(np.unique(np.asarray(weights)).size)
