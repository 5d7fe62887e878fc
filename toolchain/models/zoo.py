"""The model zoo: the MLPerf Tiny architectures and the everyday tiny Keras models users bring.

Each entry builds a tf_keras model and the data it trains on briefly. Accuracy is not the
point (op coverage, bit-exactness, size and speed are), so every dataset is generated here or
derived from scikit-learn's shipped digits, deterministically from a seed; nothing downloads.

    ds_cnn            MLPerf Tiny keyword spotting: 49x10 MFCC, depthwise-separable convs,
                      average pooling (DS-CNN, 64 filters, 4 blocks)
    resnet8           MLPerf Tiny image classification: 32x32x3, residual ADD, strided convs
    mobilenet_v1_025  MLPerf Tiny visual wake words: MobileNetV1 alpha 0.25 at 96x96x3
    ad_autoencoder    MLPerf Tiny anomaly detection: FC 640-128x4-8-128x4-640 with BatchNorm
    conv1d_sensor     1-D convs over 3-axis sensor windows (Conv1D lowers through RESHAPE)
    bn_dropout        BatchNorm and Dropout (folded and dropped at conversion)
    sigmoid_head      a binary classifier with a sigmoid output (LOGISTIC)
    tanh_head         a regressor with tanh hidden and output layers (TANH)
    two_branch_concat two branches (a conv and a depth-multiplier-2 depthwise conv) joined by
                      Concatenate (CONCATENATION), then a depthwise conv over 10 channels
    crop_gap          Cropping2D (STRIDED_SLICE), ZeroPadding2D (PAD) and
                      GlobalAveragePooling2D (MEAN)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.data.datasets import Dataset, _upsample_bilinear, load_dataset
from toolchain.errors import ToolchainError


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    data: str  # a generator name in DATASETS
    loss: str  # Keras loss name
    train_epochs: int
    prune_epochs: int
    small: bool  # small enough to run in QEMU in the test suite


ZOO = {e.name: e for e in (
    ZooEntry("ds_cnn", "MLPerf Tiny KWS DS-CNN, 49x10 MFCC", "kws", "sparse_categorical_crossentropy",
             3, 2, False),
    ZooEntry("resnet8", "MLPerf Tiny IC ResNet-8, 32x32x3", "images32", "sparse_categorical_crossentropy",
             2, 2, False),
    ZooEntry("mobilenet_v1_025", "MLPerf Tiny VWW MobileNetV1 a=0.25, 96x96x3", "vww",
             "sparse_categorical_crossentropy", 1, 1, False),
    ZooEntry("ad_autoencoder", "MLPerf Tiny AD FC autoencoder 640-128x4-8-128x4-640", "machine",
             "mse", 3, 2, False),
    ZooEntry("conv1d_sensor", "Conv1D over 128x3 sensor windows", "sensor",
             "sparse_categorical_crossentropy", 4, 2, True),
    ZooEntry("bn_dropout", "Conv + BatchNorm + Dropout, 8x8 digits", "digits",
             "sparse_categorical_crossentropy", 6, 2, True),
    ZooEntry("sigmoid_head", "MLP with a sigmoid output, 8x8 digits (even?)", "digits_even",
             "binary_crossentropy", 6, 2, True),
    ZooEntry("tanh_head", "MLP with tanh layers, 8x8 digits (regression)", "digits_value", "mse",
             6, 2, True),
    ZooEntry("two_branch_concat", "conv and depthwise (x2) branches joined by Concatenate, 8x8 digits",
             "digits", "sparse_categorical_crossentropy", 6, 2, True),
    ZooEntry("crop_gap", "Cropping2D, ZeroPadding2D, GlobalAveragePooling2D, 28x28 digits",
             "digits28", "sparse_categorical_crossentropy", 4, 2, True),
)}


def zoo_names(spec: str | None = None) -> list[str]:
    """The zoo's model names, or those of a comma-separated `spec`; ToolchainError names an
    unknown one."""
    if not spec:
        return list(ZOO)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in ZOO]
    if unknown or not names:
        raise ToolchainError(f"unknown zoo model {', '.join(unknown) or repr(spec)}: the zoo has "
                             f"{', '.join(ZOO)}")
    return names


# --- data --------------------------------------------------------------------------------

N_TRAIN = 768
N_TEST = 48
N_TEST_DIGITS = 100  # of the 450 in the digits test split


def zoo_dataset(kind: str, seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST,
                noise: float | None = None, disjoint: bool = False) -> Dataset:
    """The generated (or digits-derived) data for a zoo model; y is int64 class indices, or
    float32 targets for regression / reconstruction (then num_classes is 0). n_train, n_test
    and noise (the generator's noise level, None: its own) apply to the generated kinds;
    disjoint makes the tinted-digit images (images32, vww) of the test split derive from the
    digits' test split only, so no digit image is in both splits (benchmarks/pruned_accuracy)."""
    rng = np.random.default_rng(seed)
    if kind in ("digits", "digits28"):
        d = load_dataset(kind, seed)
        return Dataset(kind, d.x_train, d.y_train, d.x_test[:N_TEST_DIGITS], d.y_test[:N_TEST_DIGITS],
                       d.num_classes)
    if kind in ("digits_even", "digits_value"):
        d = load_dataset("digits", seed)
        f = ((lambda y: (y % 2 == 0).astype(np.float32)[:, None]) if kind == "digits_even"
             else (lambda y: ((y - 4.5) / 4.5).astype(np.float32)[:, None]))
        return Dataset(kind, d.x_train, f(d.y_train), d.x_test[:N_TEST_DIGITS],
                       f(d.y_test[:N_TEST_DIGITS]), 0)
    n = n_train + n_test
    level = {} if noise is None else {"noise": noise}
    if kind == "kws":
        x, y = _kws(rng, n, **level)
        classes = 12
    elif kind in ("images32", "vww"):
        side = 32 if kind == "images32" else 96
        if disjoint:
            d = load_dataset("digits", seed)
            xa, ya = _tinted_digits(rng, n_train, side, seed, base=(d.x_train, d.y_train), **level)
            xb, yb = _tinted_digits(rng, n_test, side, seed, base=(d.x_test, d.y_test), **level)
            x, y = np.concatenate([xa, xb]), np.concatenate([ya, yb])
        else:
            x, y = _tinted_digits(rng, n, side, seed, **level)
        if kind == "vww":
            y = (y < 5).astype(np.int64)  # "person" / "no person": two balanced classes
        classes = 10 if kind == "images32" else 2
    elif kind == "sensor":
        x, y = _sensor(rng, n)
        classes = 6
    elif kind == "machine":
        x = _machine(rng, n)
        return Dataset(kind, x[:n_train], x[:n_train], x[n_train:], x[n_train:], 0)
    else:
        raise ToolchainError(f"unknown zoo dataset {kind!r}")
    return Dataset(kind, x[:n_train], y[:n_train], x[n_train:], y[n_train:], classes)


def _kws(rng, n: int, noise: float = 0.4):
    """49 frames x 10 MFCC: each of 12 "words" is a smooth template, shifted in time, plus noise."""
    t = np.linspace(0, 1, 49)[:, None]
    templates = []
    for _ in range(12):
        f, ph, amp = rng.uniform(1, 4, 10), rng.uniform(0, 2 * np.pi, 10), rng.uniform(0.5, 2, 10)
        templates.append(amp * np.sin(2 * np.pi * f * t + ph) * np.exp(-((t - 0.5) ** 2) / 0.08))
    y = rng.integers(0, 12, n)
    shifts = rng.integers(-6, 7, n)
    x = np.stack([np.roll(templates[c], s, axis=0) for c, s in zip(y, shifts)])
    x = x + rng.normal(0, noise, x.shape)
    return x[..., None].astype(np.float32), y.astype(np.int64)


def _tinted_digits(rng, n: int, side: int, seed: int, noise: float = 0.05, base=None):
    """The digits (or `base`: (images, labels) among them) bilinearly upsampled to side x side,
    tinted with a random colour over a random background colour, with noise: an RGB image task
    of the right size."""
    if base is None:
        d = load_dataset("digits", seed)
        base = (np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test]))
    base, labels = base[0][..., 0], base[1]
    pick = rng.integers(0, len(base), n)
    imgs = _upsample_bilinear(base[pick], side)[..., None]
    fg, bg = rng.uniform(0.4, 1, (n, 1, 1, 3)), rng.uniform(0, 0.5, (n, 1, 1, 3))
    x = bg + imgs * (fg - bg) + rng.normal(0, noise, (n, side, side, 3))
    return x.astype(np.float32), labels[pick].astype(np.int64)


def _sensor(rng, n: int):
    """128 samples x 3 axes: each of 6 activities has its own frequency and axis mix."""
    t = np.arange(128) / 50.0
    freqs = np.array([0.5, 1.0, 1.8, 2.5, 3.5, 5.0])
    mixes = rng.uniform(0.2, 1.0, (6, 3))
    y = rng.integers(0, 6, n)
    ph = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    x = mixes[y][:, None, :] * np.sin(2 * np.pi * freqs[y][:, None, None] * t[None, :, None] + ph)
    x = x + rng.normal(0, 0.3, x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def _machine(rng, n: int, anomalous: bool = False):
    """5 frames x 128 log-mel bins flattened to 640 (the MLPerf Tiny AD input): a machine's
    harmonic spectrum with random fundamental and level, plus noise. anomalous: a fault's
    extra, inharmonic peak (between two harmonics, at a random fraction of the level) added."""
    bins = np.arange(128)
    f0 = rng.uniform(6, 14, (n, 1))
    level = rng.uniform(0.5, 1.5, (n, 1))
    spectrum = sum(np.exp(-((bins - k * f0) ** 2) / 6.0) / k for k in range(1, 9)) * level
    if anomalous:
        at = (rng.integers(1, 5, (n, 1)) + 0.5) * f0
        spectrum = spectrum + np.exp(-((bins - at) ** 2) / 6.0) * level * rng.uniform(0.1, 0.4, (n, 1))
    frames = spectrum[:, None, :] + rng.normal(0, 0.1, (n, 5, 128))
    return frames.reshape(n, 640).astype(np.float32)


# --- models ------------------------------------------------------------------------------

def build_zoo_model(name: str, ds: Dataset, seed: int = 0, width: float = 1.0):
    """An uncompiled tf_keras model for zoo entry `name`, initialised from `seed`. width < 1
    keeps that fraction of every hidden layer's filters or units (the MLPerf Tiny entries:
    the architecture channel pruning leaves; inputs and outputs keep their sizes)."""
    import tf_keras as keras

    if name not in ZOO:
        zoo_names(name)  # raises naming the zoo
    if not 0.0 < width <= 1.0:
        raise ValueError(f"width {width}: expected a fraction in (0, 1]")
    L = keras.layers
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=ds.input_shape, name="input")

    def n(filters: int) -> int:
        """A hidden layer's filters or units at this width."""
        return max(1, int(round(filters * width)))

    def bn_relu(x, prefix, relu6=False):
        x = L.BatchNormalization(name=f"{prefix}_bn")(x)
        return L.ReLU(6.0 if relu6 else None, name=f"{prefix}_relu")(x)

    if name == "ds_cnn":
        x = L.Conv2D(n(64), (10, 4), strides=2, padding="same", use_bias=False, name="conv1")(inputs)
        x = bn_relu(x, "conv1")
        x = L.Dropout(0.2)(x)
        for i in range(1, 5):
            x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
            x = bn_relu(x, f"dw{i}")
            x = L.Conv2D(n(64), 1, use_bias=False, name=f"pw{i}")(x)
            x = bn_relu(x, f"pw{i}")
        x = L.Dropout(0.4)(x)
        x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]), name="avgpool")(x)
        x = L.Flatten()(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    elif name == "resnet8":
        x = L.Conv2D(n(16), 3, padding="same", name="conv1")(inputs)
        x = bn_relu(x, "conv1")
        for stage, filters in enumerate((n(16), n(32), n(64)), start=1):
            stride = 1 if stage == 1 else 2
            y = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"s{stage}_conv1")(x)
            y = bn_relu(y, f"s{stage}_conv1")
            y = L.Conv2D(filters, 3, padding="same", name=f"s{stage}_conv2")(y)
            y = L.BatchNormalization(name=f"s{stage}_conv2_bn")(y)
            if stride != 1:
                x = L.Conv2D(filters, 1, strides=stride, name=f"s{stage}_shortcut")(x)
            x = L.Add(name=f"s{stage}_add")([x, y])
            x = L.ReLU(name=f"s{stage}_relu")(x)
        x = L.AveragePooling2D(pool_size=x.shape[1], name="avgpool")(x)
        x = L.Flatten()(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    elif name == "mobilenet_v1_025":
        alpha = 0.25
        x = L.Conv2D(n(int(32 * alpha)), 3, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
        x = bn_relu(x, "conv1", relu6=True)
        blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                  (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
        for i, (filters, stride) in enumerate(blocks, start=1):
            x = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"dw{i}")(x)
            x = bn_relu(x, f"dw{i}", relu6=True)
            x = L.Conv2D(n(int(filters * alpha)), 1, use_bias=False, name=f"pw{i}")(x)
            x = bn_relu(x, f"pw{i}", relu6=True)
        x = L.AveragePooling2D(pool_size=x.shape[1], name="avgpool")(x)
        x = L.Flatten()(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    elif name == "ad_autoencoder":
        x = inputs
        for i, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128), start=1):
            x = L.Dense(n(units), name=f"fc{i}")(x)
            x = bn_relu(x, f"fc{i}")
        outputs = L.Dense(ds.input_shape[0], name="fc_out")(x)
    elif name == "conv1d_sensor":
        x = L.Conv1D(16, 5, activation="relu", name="conv1")(inputs)
        x = L.MaxPooling1D(2, name="pool1")(x)
        x = L.Conv1D(32, 5, activation="relu", name="conv2")(x)
        x = L.GlobalAveragePooling1D(name="gap")(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    elif name == "bn_dropout":
        x = L.Conv2D(16, 3, padding="same", name="conv1")(inputs)
        x = bn_relu(x, "conv1")
        x = L.Dropout(0.25)(x)
        x = L.Conv2D(32, 3, name="conv2")(x)
        x = bn_relu(x, "conv2")
        x = L.MaxPooling2D(2, name="pool")(x)
        x = L.Flatten()(x)
        x = L.Dropout(0.5)(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    elif name == "sigmoid_head":
        x = L.Flatten()(inputs)
        x = L.Dense(64, activation="relu", name="fc1")(x)
        outputs = L.Dense(1, activation="sigmoid", name="fc_out")(x)
    elif name == "tanh_head":
        x = L.Flatten()(inputs)
        x = L.Dense(48, activation="tanh", name="fc1")(x)
        outputs = L.Dense(1, activation="tanh", name="fc_out")(x)
    elif name == "two_branch_concat":
        a = L.Conv2D(8, 3, padding="same", activation="relu", name="branch_conv")(inputs)
        b = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu",
                              name="branch_dw")(inputs)
        x = L.Concatenate(name="concat")([a, b])  # 10 channels
        x = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
        x = L.Conv2D(16, 1, activation="relu", name="mix")(x)
        x = L.MaxPooling2D(2, name="pool")(x)
        x = L.Flatten()(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    else:  # crop_gap
        x = L.Cropping2D(((2, 2), (2, 2)), name="crop")(inputs)
        x = L.Conv2D(16, 3, strides=2, activation="relu", name="conv1")(x)
        x = L.ZeroPadding2D(2, name="pad")(x)  # 2: not foldable into a SAME conv
        x = L.Conv2D(32, 3, activation="relu", name="conv2")(x)
        x = L.GlobalAveragePooling2D(name="gap")(x)
        outputs = L.Dense(ds.num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name=name)


def machine_anomalies(seed: int, n: int) -> np.ndarray:
    """n anomalous "machine" samples (the AD autoencoder's data with a fault's extra peak), from
    their own stream of `seed`: the positives an anomaly score is ranked on."""
    return _machine(np.random.default_rng([seed, 1]), n, anomalous=True)
