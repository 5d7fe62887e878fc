"""Writes the committed seed corpora in tests/fuzz/corpus/ (run from the repo root):

    .venv/bin/python tests/fuzz/make_corpus.py

model/          blobs of small models compiled by the toolchain: a conv + FC model in every
                weight format it accepts, and one using every other op (depthwise, pools,
                ADD, RESHAPE, SOFTMAX); a few KB each
format_<name>/  weight tables of each encoder for the shapes fuzz_format.c expects

Deterministic (fixed seeds), so rerunning it changes nothing unless the encoders or the
blob layout changed; tests/fuzz/test_fuzz.py checks every seed still initialises.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import es_fuzz_driver as drv  # noqa: E402


def _sparsify(model, rng, density=0.25):
    for layer in model.layers:
        ws = layer.get_weights()
        if ws and ws[0].ndim >= 2:
            ws[0][rng.random(ws[0].shape) > density] = 0
            layer.set_weights(ws)
    return model


def model_blobs() -> dict[str, bytes]:
    import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
    import tf_keras as keras

    from toolchain.pipeline import plan_model
    from toolchain.plan.select import ENCODERS
    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    blobs = {}

    inp = keras.Input((6, 6, 2), batch_size=1)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8)(x)
    conv_fc = _sparsify(keras.Model(inp, x), rng)
    tfl = to_int8_tflite(conv_fc, rng.random((16, 6, 6, 2)).astype(np.float32))
    for name in ENCODERS:
        try:
            plan = plan_model(tfl, "fz", force_format=name)
        except Exception as e:  # a format that cannot hold these layers
            print(f"skipping {name}: {e}")
            continue
        blobs[f"conv_fc_{drv.target_name(name)[len('format_'):]}"] = plan.blob.data

    inp = keras.Input((6, 6, 4), batch_size=1)
    a = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(inp)
    b = keras.layers.Conv2D(4, 1, padding="same")(inp)
    x = keras.layers.Add()([a, b])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.AveragePooling2D(padding="same")(x)
    x = keras.layers.Reshape((-1,))(x)
    x = keras.layers.Dense(6, activation="softmax")(x)
    ops = keras.Model(inp, x)
    tfl = to_int8_tflite(ops, rng.random((16, 6, 6, 4)).astype(np.float32))
    blobs["all_ops"] = plan_model(tfl, "fz").blob.data
    return blobs


def main() -> None:
    for t in drv.targets():
        if t.format_name is not None:
            drv.write_seeds(drv.CORPUS / t.name, drv.format_seeds(t.format_name))
    drv.write_seeds(drv.CORPUS / "model", model_blobs())
    for d in sorted(drv.CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name:20s} {len(files):3d} files {sum(f.stat().st_size for f in files):7,d} bytes")


if __name__ == "__main__":
    main()
