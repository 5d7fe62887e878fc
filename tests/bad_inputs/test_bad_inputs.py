"""Every malformed input in tests/bad_inputs/files/ (written by make_bad_inputs.py) gives one
clear message naming what is wrong, a non-zero exit code, no traceback, no output directory,
and leaves an existing output directory exactly as it was. Plus: the same inputs and seed
give byte-identical generated sources."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolchain.cli import main

FILES = Path(__file__).resolve().parent / "files"
REPO = Path(__file__).resolve().parents[2]
VALID = str(FILES / "valid_8x8x1_int8.tflite")

# id: (argv before --out, substrings the error message must contain)
CASES = {
    # model files
    "empty_tflite": (["compile", "{F}/empty.tflite"], ["empty.tflite", "not a TFLite flatbuffer", "0 bytes"]),
    "three_bytes_tflite": (["compile", "{F}/three_bytes.tflite"], ["three_bytes.tflite", "not a TFLite flatbuffer"]),
    "random_bytes_tflite": (["compile", "{F}/random_bytes.tflite"], ["random_bytes.tflite", "no 'TFL3' identifier"]),
    "tfl3_garbage_tflite": (["compile", "{F}/tfl3_garbage.tflite"], ["tfl3_garbage.tflite", "corrupt TFLite flatbuffer", "convert the model again"]),
    "truncated_tflite": (["compile", "{F}/truncated.tflite"], ["truncated.tflite", "corrupt TFLite flatbuffer"]),
    "float_tflite": (["compile", "{F}/float32.tflite"], ["float32.tflite", "is float32", "full-integer int8"]),
    "unsupported_op": (["compile", "{F}/unsupported_op_gather.tflite"], ["unsupported_op_gather.tflite", "GATHER", "not supported", "Supported ops: ADD"]),
    "dynamic_height": (["compile", "{F}/dynamic_height.tflite"], ["dynamic_height.tflite", "dynamic dimension 1", "shape_signature [1, -1, 8, 1]", "only a dynamic batch of 1", "fixed input sizes"]),
    "batch_4": (["compile", "{F}/batch4.tflite"], ["batch4.tflite", "has batch 4", "batch of 1"]),
    "text_keras": (["compile", "{F}/text.keras", "--data", "digits"], ["text.keras", "not a Keras model", "model.save()"]),
    "empty_keras": (["compile", "{F}/empty.keras", "--data", "digits"], ["empty.keras", "not a Keras model"]),
    "random_bytes_keras": (["compile", "{F}/random_bytes.keras", "--data", "digits"], ["random_bytes.keras", "not a Keras model"]),
    "truncated_keras": (["compile", "{F}/truncated.keras", "--data", "digits"], ["truncated.keras", "not a Keras model"]),
    "zip_without_model_keras": (["compile", "{F}/zip_without_model.keras", "--data", "digits"], ["zip_without_model.keras", "config.json"]),
    "text_h5": (["compile", "{F}/text.h5", "--data", "digits"], ["text.h5", "not a Keras model"]),
    "onnx": (["compile", "{F}/model.onnx"], ["model.onnx", "unsupported extension", ".tflite"]),
    "missing_model": (["compile", "{F}/no_such_model.tflite"], ["no_such_model.tflite", "cannot read the model"]),
    "directory_not_savedmodel": (["compile", "{F}"], ["not a SavedModel", "saved_model.pb"]),
    # datasets
    "npz_without_x": (["compile", VALID, "--data", "{F}/no_x.npz"], ["no_x.npz", "no array 'x'", "found: images"]),
    "npz_wrong_shape": (["compile", VALID, "--data", "{F}/wrong_shape_28x28.npz"], ["(28, 28, 1)", "expects inputs of shape (8, 8, 1)"]),
    "npz_label_count": (["compile", VALID, "--data", "{F}/labels_count_mismatch.npz"], ["labels_count_mismatch.npz", "'y'", "(3,)", "(4,)"]),
    "npz_string_x": (["compile", VALID, "--data", "{F}/string_x.npz"], ["string_x.npz", "dtype <U1"]),
    "npz_empty_x": (["compile", VALID, "--data", "{F}/empty_x.npz"], ["empty_x.npz", "n >= 1 samples"]),
    "npz_not_an_archive": (["compile", VALID, "--data", "{F}/text.npz"], ["text.npz", "not a .npz archive", "numpy.savez"]),
    "npz_missing": (["compile", VALID, "--data", "{F}/no_such_data.npz"], ["no_such_data.npz", "does not exist"]),
    "unknown_dataset": (["compile", VALID, "--data", "mnist-fashion"], ["unknown dataset 'mnist-fashion'", "digits28"]),
    # options
    "sparsity_one": (["compile", VALID, "--sparsity", "1.0"], ["--sparsity", "outside [0, 1)"]),
    "sparsity_negative": (["compile", VALID, "--sparsity", "-0.1"], ["--sparsity", "outside [0, 1)"]),
    "sparsity_nan": (["compile", VALID, "--sparsity", "nan"], ["--sparsity", "outside [0, 1)"]),
    "sparsity_text": (["compile", VALID, "--sparsity", "lots"], ["--sparsity", "'lots' is not a number"]),
    "prune_config_malformed": (["compile", VALID, "--config", "{F}/malformed_prune_config.toml"], ["malformed_prune_config.toml", "not valid TOML"]),
    # boards and budgets
    "unknown_board": (["compile", VALID, "--board", "no-such-board"], ["no-such-board", "board file not found", "known boards: "]),
    "board_malformed": (["compile", VALID, "--board", "{F}/malformed_board.toml"], ["malformed_board.toml", "not valid TOML", "line 2"]),
    "model_does_not_fit_board": (["compile", VALID, "--board", "{F}/tiny_ram_board.toml"], ["tiny_ram_board.toml", "does not fit board tiny-ram", "RAM needs", "more than memory.ram.size"]),
    "flash_budget_too_small": (["compile", VALID, "--flash-budget", "100"], ["--flash-budget 100", "alone take"]),
}

# Input files the cases above use; every file in files/ but the valid model is malformed.
MALFORMED_FILES = sorted(p.name for p in FILES.iterdir() if p.name != Path(VALID).name)


def _argv(case, out):
    args, _ = CASES[case]
    return [a.replace("{F}", str(FILES)) for a in args] + ["--out", str(out)]


def _snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(directory.rglob("*"))}


def test_at_least_25_malformed_files_all_used():
    assert len(MALFORMED_FILES) >= 25
    used = " ".join(" ".join(args) for args, _ in CASES.values()) + " corrupt_report.json"
    assert [f for f in MALFORMED_FILES if f not in used] == []


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_its_error_and_touches_nothing(case, tmp_path, capsys):
    _, expected = CASES[case]
    out = tmp_path / "out"
    try:
        code = main(_argv(case, out))
    except SystemExit as e:  # argparse rejects options before main's try block
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and "Traceback" not in err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "temporary output left behind"

    # an existing output directory is left exactly as it was
    out.mkdir()
    (out / "src").mkdir()
    (out / "report.json").write_text('{"model": "previous"}\n')
    (out / "src" / "model.c").write_bytes(b"/* previous */\n")
    before = _snapshot(out)
    try:
        code = main(_argv(case, out))
    except SystemExit as e:
        code = e.code
    assert code == 2
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _damaged_output_dir(tmp_path) -> Path:
    d = tmp_path / "compiled"
    (d / "src").mkdir(parents=True)
    shutil.copyfile(FILES / "corrupt_report.json", d / "report.json")
    shutil.copyfile(VALID, d / "model_int8.tflite")
    np.savez(d / "data.npz", x=np.zeros((2, 8, 8, 1), np.int8))
    (d / "src" / "model.c").write_text("/* */\n")
    return d


def test_run_on_a_damaged_output_directory(tmp_path, capsys):
    d = _damaged_output_dir(tmp_path)
    before = _snapshot(d)
    assert main(["run", str(d), "--on", "host"]) == 2
    err = capsys.readouterr().err
    assert "damaged output directory" in err and "JSONDecodeError" in err and "compile" in err
    assert _snapshot(d) == before


@pytest.mark.parametrize("case", ["empty_tflite", "npz_without_x", "sparsity_one", "unsupported_op",
                                  *(pytest.param(c, marks=pytest.mark.slow)  # the two slowest (20-30 s)
                                    for c in ("text_keras", "model_does_not_fit_board"))])
def test_no_traceback_from_the_command_line(case, tmp_path):
    """The console entry point, as a user runs it: stderr carries the one message only."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", *_argv(case, out)],
                          capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if "error:" in l]
    assert len(lines) == 1 and all(t in lines[0] for t in CASES[case][1]), proc.stderr
    assert not out.exists()


def test_run_damaged_directory_no_traceback(tmp_path):
    d = _damaged_output_dir(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", "run", str(d)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "damaged output directory" in proc.stderr


def _tree(directory: Path) -> dict:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_same_inputs_and_seed_give_identical_sources(tmp_path, capsys):
    """Compiling twice gives byte-identical generated sources (and the same report apart from
    timings); a different input gives different sources, so the comparison can fail."""
    runs = []
    for i in range(2):
        out = tmp_path / f"o{i}"
        assert main(["compile", VALID, "--out", str(out), "--seed", "3"]) == 0
        runs.append(out)
    src = [_tree(o / "src") for o in runs]
    assert src[0] and src[0] == src[1]
    for sub in ("firmware", "library"):
        if (runs[0] / sub).is_dir():
            assert _tree(runs[0] / sub) == _tree(runs[1] / sub), sub
    reports = [json.loads((o / "report.json").read_text()) for o in runs]
    for r in reports:
        r.pop("compile_seconds", None)
    assert reports[0] == reports[1]
    other = tmp_path / "other"
    assert main(["compile", VALID, "--out", str(other), "--optimize", "size", "--seed", "3",
                 "--name", "renamed"]) == 0
    assert _tree(other / "src") != src[0]


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_keras_model_pruned_twice_with_one_seed_gives_identical_sources(tmp_path, capsys):
    """The Keras path (prune, fine-tune, quantize, encode) is deterministic for a seed too."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inp))
    keras.Model(inp, keras.layers.Dense(10)(x)).save(tmp_path / "m.keras")
    trees = []
    for i in range(2):
        out = tmp_path / f"o{i}"
        assert main(["compile", str(tmp_path / "m.keras"), "--out", str(out), "--sparsity", "0.5",
                     "--epochs", "1", "--seed", "1"]) == 0
        trees.append(_tree(out / "src"))
    assert trees[0] and trees[0] == trees[1]
