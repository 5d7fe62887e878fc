"""Quiet by default: commands print edgesparse's own lines only; TensorFlow's C++ start-up log,
the converter's log and Python warnings appear with -v."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VALID = REPO / "tests" / "bad_inputs" / "files" / "valid_8x8x1_int8.tflite"
# absl / TF C++ lines ("I0000 00:00:... port.cc:153] ..."), absl's preamble, Python warnings
FOREIGN = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|oneDNN|cuda|cuInit|tensorflow|"
                     r"Warning:|WARNING|fully_quantize|INFO:", re.M)


def _edgesparse(*args, cwd):
    env = {k: v for k, v in os.environ.items()
           if k not in ("EDGESPARSE_VERBOSE", "TF_CPP_MIN_LOG_LEVEL", "_EDGESPARSE_SET_TF_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-m", "toolchain.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_tflite_commands_print_only_their_own_lines(tmp_path):
    for args in (["inspect", str(VALID)], ["compile", str(VALID), "--out", "o"],
                 ["run", "o", "--on", "host"], ["report", "o"]):
        proc = _edgesparse(*args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", proc.stderr
        assert not FOREIGN.search(proc.stdout), proc.stdout


@pytest.mark.convert
def test_tensorflow_is_silent_by_default_and_speaks_with_v(tmp_path):
    """Inspecting a Keras model imports TensorFlow and runs the converter: nothing of theirs
    shows by default; with -v their log does (so the first check can fail)."""
    code = ("import toolchain, tf_keras as keras; keras.utils.set_random_seed(0); "
            "i = keras.Input((4, 4, 1)); "
            "keras.Model(i, keras.layers.Dense(3)(keras.layers.Flatten()(i))).save('m.keras')")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True,
                   timeout=900)
    quiet = _edgesparse("inspect", "m.keras", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "", quiet.stderr
    assert not FOREIGN.search(quiet.stdout), quiet.stdout
    loud = _edgesparse("-v", "inspect", "m.keras", cwd=tmp_path)
    assert loud.returncode == 0
    assert FOREIGN.search(loud.stderr), loud.stderr
    assert loud.stdout == quiet.stdout
