"""Writes the malformed inputs in tests/bad_inputs/files/ (run from the repo root):

    .venv/bin/python tests/bad_inputs/make_bad_inputs.py

Most are a few bytes written by hand; the .tflite ones that must be real flatbuffers with one
thing wrong (float, an op the runtime lacks, dynamic height, batch > 1, truncated) are
converted here with tf_keras and TFLiteConverter. Deterministic; every file is a few KB.
"""
from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

FILES = Path(__file__).resolve().parent / "files"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _keras_models():
    import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)

    def small(batch=1):
        inp = keras.Input((8, 8, 1), batch_size=batch)
        x = keras.layers.Flatten()(inp)
        return keras.Model(inp, keras.layers.Dense(4)(x))

    inp = keras.Input((8, 8, 1), batch_size=1)
    x = keras.layers.Flatten()(inp)
    x = keras.layers.Reshape((2, 3))(keras.layers.Dense(6)(x))
    unsupported = keras.Model(inp, keras.layers.Lambda(lambda t: tf.gather(t, [2, 0, 1], axis=-1))(x))
    return keras, small, unsupported


def tflite_files() -> dict[str, bytes]:
    import tensorflow as tf

    from toolchain.quantize.convert import to_int8_tflite

    keras, small, unsupported = _keras_models()
    x = np.random.default_rng(0).random((8, 8, 8, 1)).astype(np.float32)
    good = to_int8_tflite(small(), x)
    out = {"valid_8x8x1_int8.tflite": good,  # not malformed: the model the bad datasets go with
           "truncated.tflite": good[:len(good) // 2],
           "unsupported_op_gather.tflite": to_int8_tflite(unsupported, x),  # GATHER
           }
    out["float32.tflite"] = tf.lite.TFLiteConverter.from_keras_model(small()).convert()

    def int8(model, batch):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x[:batch]] for _ in range(4))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
        return conv.convert()

    # a dynamic height (shape_signature [1, -1, 8, 1]); a dynamic batch alone is batch 1
    inp = keras.Input((None, 8, 1), batch_size=1)
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    out["dynamic_height.tflite"] = int8(keras.Model(inp, keras.layers.Dense(4)(pooled)), 1)
    out["batch4.tflite"] = int8(small(batch=4), 4)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", '{"keras_version": "2.16.0"}')
    out["zip_without_model.keras"] = buf.getvalue()
    path = FILES / "_tmp_small.keras"
    small().save(path)
    out["truncated.keras"] = path.read_bytes()[:600]
    path.unlink()
    return out


def simple_files() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    out = {
        "empty.tflite": b"",
        "three_bytes.tflite": b"\x00\x01\x02",
        "random_bytes.tflite": rng.integers(0, 256, 1024, dtype=np.uint8).tobytes(),
        "tfl3_garbage.tflite": b"\x1c\x00\x00\x00TFL3" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes(),
        "text.keras": b"this is not a keras archive\n",
        "empty.keras": b"",
        "random_bytes.keras": rng.integers(0, 256, 512, dtype=np.uint8).tobytes(),
        "text.h5": b"not an HDF5 file\n",
        "model.onnx": b"\x08\x07\x12\x04onnx",
        "text.npz": b"x,y\n1,2\n",
    }
    for name, arrays in {
        "no_x.npz": {"images": np.zeros((4, 8, 8, 1), np.float32)},
        "wrong_shape_28x28.npz": {"x": np.zeros((4, 28, 28, 1), np.float32),
                                  "y": np.zeros(4, np.int64)},
        "labels_count_mismatch.npz": {"x": np.zeros((4, 8, 8, 1), np.float32),
                                      "y": np.zeros(3, np.int64)},
        "string_x.npz": {"x": np.array([["a"] * 64] * 4).reshape(4, 8, 8, 1)},
        "empty_x.npz": {"x": np.zeros((0, 8, 8, 1), np.float32)},
    }.items():
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        out[name] = buf.getvalue()
    out["malformed_board.toml"] = b'name = "broken"\ncore = \n'
    out["tiny_ram_board.toml"] = (
        b'# A valid board whose RAM holds the 1 KB stack and no more.\n'
        b'name = "tiny-ram"\ncore = "cortex-m4"\nfpu = "fpv4-sp-d16"\ndsp = true\n'
        b'clock_hz = 25000000\nstack_bytes = 1024\n\n[memory.flash]\norigin = 0x00000000\nsize = 0x00400000\n\n'
        b'[memory.ram]\norigin = 0x20000000\nsize = 0x408\n\n[output]\nkind = "semihosting"\n\n'
        b'[qemu]\nmachine = "mps2-an386"\nsystick_hz = 25000000\n')
    out["malformed_prune_config.toml"] = b"[layers.fc\nsparsity = 0.5\n"
    out["corrupt_report.json"] = b'{"model": "x", "board": '
    return out


def main() -> None:
    FILES.mkdir(exist_ok=True)
    files = {**simple_files(), **tflite_files()}
    for name, data in sorted(files.items()):
        (FILES / name).write_bytes(data)
        print(f"{name:32s} {len(data):6d} bytes")


if __name__ == "__main__":
    main()
