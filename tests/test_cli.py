"""User errors: one clear message, exit code 2, no traceback, and no output directory left."""
import subprocess
import sys

import numpy as np
import pytest

from toolchain.cli import main

EDGESPARSE = [sys.executable, "-m", "toolchain.cli"]


def _run(args, cwd):
    return subprocess.run(EDGESPARSE + args, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_missing_model_subprocess(tmp_path):
    r = _run(["compile", str(tmp_path / "nope.tflite"), "--out", str(tmp_path / "o")], tmp_path)
    assert r.returncode == 2
    assert "edgesparse: error:" in r.stderr and "nope.tflite" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content,match", [
    (b"", "not a TFLite flatbuffer"),
    (b"\x00" * 3, "not a TFLite flatbuffer"),
    (bytes(range(256)) * 4, "not a TFLite flatbuffer"),
])
def test_bad_tflite_bytes(tmp_path, capsys, content, match):
    model = tmp_path / "bad.tflite"
    model.write_bytes(content)
    assert main(["compile", str(model), "--out", str(tmp_path / "o")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_text_file_named_keras(tmp_path, capsys):
    model = tmp_path / "model.keras"
    model.write_text("not a keras archive")
    assert main(["compile", str(model), "--out", str(tmp_path / "o"), "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert "model.keras" in err
    assert not (tmp_path / "o").exists()


def test_sparsity_out_of_range(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compile", "m.tflite", "--out", str(tmp_path / "o"), "--sparsity", "1.5"])
    assert e.value.code == 2
    assert "outside [0, 1)" in capsys.readouterr().err


def test_unknown_board(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"xxxxTFL3")
    assert main(["compile", str(model), "--out", str(tmp_path / "o"), "--board", "no-such-board"]) == 2
    assert "no-such-board" in capsys.readouterr().err


def test_failed_compile_leaves_existing_output_untouched(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("previous result")
    model = tmp_path / "bad.tflite"
    model.write_bytes(b"junk")
    assert main(["compile", str(model), "--out", str(out)]) == 2
    assert (out / "keep.txt").read_text() == "previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tflite", "o"]


def test_run_on_a_directory_that_was_never_compiled(tmp_path, capsys):
    assert main(["run", str(tmp_path), "--on", "host"]) == 2
    assert "missing report.json" in capsys.readouterr().err


@pytest.mark.convert
@pytest.mark.slow
def test_dataset_shape_mismatch(tmp_path, capsys):
    """A .tflite for 8x8x1 inputs with an .npz of 28x28x1 samples."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    inp = keras.Input((8, 8, 1), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(to_int8_tflite(model, np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float32)))
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((4, 28, 28, 1), np.float32))
    assert main(["compile", str(tfl), "--out", str(tmp_path / "o"), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "28" in err and "8" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.convert
@pytest.mark.slow
def test_optimize_goals_and_an_impossible_flash_budget(tmp_path, capsys):
    """--optimize changes the formats a sparse model gets; a flash budget smaller than the
    model's smallest encoding is refused with the shortfall and leaves nothing behind."""
    import json

    import tf_keras as keras

    from toolchain.encode import patterns
    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(0)
    inp = keras.Input((8, 8, 1), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(64)(keras.layers.Flatten()(inp)))
    w, b = model.layers[-1].get_weights()
    rows = patterns.keras_rows(w)
    model.layers[-1].set_weights([patterns.keras_from_rows(rows * patterns.unstructured_mask(rows, 0.9),
                                                           w.shape), b])
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(to_int8_tflite(model, rng.random((20, 8, 8, 1)).astype(np.float32)))
    formats = {}
    for goal in ("speed", "size"):
        assert main(["compile", str(tfl), "--out", str(tmp_path / goal), "--optimize", goal]) == 0
        report = json.loads((tmp_path / goal / "report.json").read_text())
        assert report["optimize"] == goal
        formats[goal] = report["layers"][-1]["format"]
    # the 10% largest weights of each row quantize to under 32 values: a palette fits; the
    # fastest FC format on the default (DSP) board is column pairs
    assert formats == {"speed": "pairs", "size": "palette-csr"}
    capsys.readouterr()
    assert main(["compile", str(tfl), "--out", str(tmp_path / "tiny"), "--flash-budget", "1K"]) == 2
    assert "flash-budget" in capsys.readouterr().err
    assert not (tmp_path / "tiny").exists()


def test_a_ram_budget_below_the_smallest_arena_is_refused(tmp_path, capsys):
    """--ram-budget (issue 22): below the smallest arena plan, exit 2 with one line naming the
    layer whose buffers reach the arena's top and the smallest budget that fits, and no output;
    at that budget the compile succeeds with that arena."""
    import json
    import re
    from pathlib import Path

    valid = Path(__file__).parent / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite"
    assert main(["compile", str(valid), "--out", str(tmp_path / "tight"), "--ram-budget", "64"]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("edgesparse: error")]
    assert len(err) == 1, err
    m = re.search(r"--ram-budget 64: layer (\d+) \((.+), (\w+)\) cannot fit: .*the smallest "
                  r"budget that fits is ([\d,]+) bytes$", err[0])
    assert m, err[0]
    assert not (tmp_path / "tight").exists()
    smallest = int(m.group(4).replace(",", ""))
    assert main(["compile", str(valid), "--out", str(tmp_path / "fits"), "--ram-budget",
                 str(smallest)]) == 0
    report = json.loads((tmp_path / "fits" / "report.json").read_text())
    assert report["arena_bytes"] == smallest > 64
    assert report["layers"][int(m.group(1))]["op"] == m.group(3)
