"""Every weight format's kernel, plain C and DSP (run on the host through es_dsp.h's C
emulation with ES_FORCE_DSP), against TFLM's reference kernels, exact to the byte. The
models' weights are pruned to the pattern each format needs (2:4 along the reduction
dimension, 1x4 blocks, or unstructured), so every format applies to every layer it can."""
import numpy as np
import pytest

from toolchain.encode import patterns


def _keras():
    import tf_keras as keras

    return keras


def _prune(model, pattern, rng):
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws or ws[0].ndim < 2:
            continue
        rows = patterns.keras_rows(ws[0] * rng.uniform(0.3, 3.0))
        if pattern == "nm2:4":
            mask = patterns.nm_mask(rows, 2, 4)
        elif pattern == "block1x4" and rows.shape[1] % 4 == 0:
            mask = patterns.block_mask(rows, 1, 4, 0.7)
        else:
            mask = patterns.unstructured_mask(rows, 0.8)
        ws[0] = patterns.keras_from_rows(rows * mask, ws[0].shape).astype(np.float32)
        layer.set_weights(ws)


def _model(keras, first_in_c):
    inp = keras.Input((9, 7, first_in_c), batch_size=1)
    h = keras.layers.Conv2D(12, 3, padding="same", activation="relu")(inp)  # K = 9 * in_c
    h = keras.layers.Conv2D(8, 1, strides=2, activation="relu")(h)           # direct 1x1, K = 12
    h = keras.layers.Conv2D(8, 2, padding="valid")(h)                        # K = 32
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(20)(keras.layers.Dense(36, activation="relu")(h))
    return keras.Model(inp, out)


@pytest.mark.slow
@pytest.mark.convert
@pytest.mark.parametrize("pattern,first_in_c", [("nm2:4", 4), ("block1x4", 4), ("unstructured", 1)])
def test_every_format_matches_tflm(pattern, first_in_c, host_vs_reference, to_int8):
    from toolchain.plan.select import applicable_formats

    rng = np.random.default_rng(len(pattern))
    model = _model(_keras(), first_in_c)
    _prune(model, pattern, rng)
    x = rng.uniform(-1.5, 2.0, size=(8, 9, 7, first_in_c)).astype(np.float32)
    tflite = to_int8(model, x)
    _, _, plan = host_vs_reference(tflite, x, force_format="dense")
    formats = sorted({f for layer in plan.layers for f in applicable_formats(layer)})
    if pattern == "nm2:4":
        assert {"nm2:4", "block1x4", "csr16", "csr8"} <= set(formats)
    for fmt in formats:
        for defines in ((), ("ES_FORCE_DSP",)):
            ours, ref, plan = host_vs_reference(tflite, x, force_format=fmt, defines=defines)
            used = {c.format for c in plan.choices}
            assert fmt in used
            if fmt in (pattern, "csr8", "csr16"):  # these hold every FC / conv layer here
                # one per FC / conv op: row bands of a layer (plan/bands.py) share its choice
                built = [c.format for l, c in zip(plan.layers, plan.choices)
                         if l.sparse_capable and l.shares is None]
                assert built == [fmt] * 5, (fmt, built)
            bad = np.count_nonzero(ours != ref)
            assert bad == 0, f"{fmt} {defines}: {bad} of {ref.size} bytes differ"
