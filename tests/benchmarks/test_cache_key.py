"""The benchmark cache (benchmarks/measure.py rows, benchmarks/models.py cases) reuses a row
only when nothing that can change it changed: a requantization source, any tool's version, the
oracle's version for reference outputs. No TensorFlow, no builds: seconds."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks import config, measure, models  # noqa: E402
from toolchain import cache_key  # noqa: E402


@pytest.fixture
def tree(tmp_path):
    """A copy of the sources the row key reads (so edits cannot touch the checkout)."""
    root = tmp_path / "tree"
    for rel in measure.FINGERPRINT_PATHS:
        src = REPO_ROOT / rel
        if src.is_dir():
            shutil.copytree(src, root / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / rel)
    return root


def _case():
    shape = config.parse_shape("784x300")
    pattern = config.Pattern("unstructured", 0.9)
    x = np.arange(2 * 784, dtype=np.int64).reshape(2, 784).astype(np.int8)
    ref = np.arange(2 * 300, dtype=np.int64).reshape(2, 300).astype(np.int8)
    return models.Case(shape, pattern, b"TFL3 not a real model", x, ref)


def _job(case):
    return measure.Job(case.shape, case.pattern, "mps2-an386", "csr8", "csr8")


def _lookup(rows_dir, tree, case, runtime_hash="r" * 64):
    fingerprint = runtime_hash[:32] + measure.source_fingerprint(tree)[:32]
    return measure.cached_row(rows_dir, _job(case), case, fingerprint)


@pytest.mark.parametrize("edit", ["toolchain/quantize/requant.py", "toolchain/pipeline.py",
                                  "toolchain/quantize/lut.py", "benchmarks/measure.py"])
def test_a_changed_source_is_not_served_from_the_cache(tmp_path, tree, edit):
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    case = _case()
    path, row = _lookup(rows_dir, tree, case)
    assert row is None
    path.write_text('{"instructions": 1234}')
    # unchanged tree: the stored row is reused
    assert _lookup(rows_dir, tree, case) == (path, {"instructions": 1234})
    # one changed byte of a requantization source (or the benchmark script): measured again
    target = tree / edit
    target.write_text(target.read_text() + "\n# changed\n")
    new_path, row = _lookup(rows_dir, tree, case)
    assert row is None and new_path != path


def test_rows_key_on_tools_inputs_reference_and_runtime(tmp_path, tree, monkeypatch):
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    case = _case()
    base, _ = _lookup(rows_dir, tree, case)
    assert _lookup(rows_dir, tree, case, runtime_hash="s" * 64)[0] != base
    other_ref = models.Case(case.shape, case.pattern, case.tflite, case.x_int8, case.reference + 1)
    assert _lookup(rows_dir, tree, other_ref)[0] != base
    other_x = models.Case(case.shape, case.pattern, case.tflite, case.x_int8 + 1, case.reference)
    assert _lookup(rows_dir, tree, other_x)[0] != base
    real = cache_key.tool_versions()
    for tool in ("arm-none-eabi-gcc", "gcc", "qemu-system-arm", "tflite-micro", "tensorflow",
                 "ai-edge-litert", "numpy"):
        assert tool in real
        monkeypatch.setattr(cache_key, "tool_versions", lambda t=tool: {**real, t: "other"})
        assert _lookup(rows_dir, tree, case)[0] != base, tool
    monkeypatch.setattr(cache_key, "tool_versions", lambda: dict(real))
    assert _lookup(rows_dir, tree, case)[0] == base


def test_reference_outputs_are_not_reused_across_oracle_versions(tmp_path, monkeypatch):
    case = _case()
    real = cache_key.tool_versions()
    path = models.reference_path(tmp_path, "c", case.tflite, case.x_int8)
    assert models.reference_path(tmp_path, "c", case.tflite, case.x_int8) == path
    assert models.reference_path(tmp_path, "c", case.tflite, case.x_int8 + 1) != path
    assert models.reference_path(tmp_path, "c", case.tflite + b"x", case.x_int8) != path
    for oracle in ("tflite-micro", "ai-edge-litert"):
        monkeypatch.setattr(cache_key, "tool_versions", lambda o=oracle: {**real, o: "0.other"})
        assert models.reference_path(tmp_path, "c", case.tflite, case.x_int8) != path, oracle
    # the converter's version changes the model's key, not the reference's
    monkeypatch.setattr(cache_key, "tool_versions", lambda: dict(real))
    model_key = models._cache_key(case.shape, case.pattern)
    monkeypatch.setattr(cache_key, "tool_versions", lambda: {**real, "tensorflow": "9.9"})
    assert models.reference_path(tmp_path, "c", case.tflite, case.x_int8) == path
    assert models._cache_key(case.shape, case.pattern) != model_key


def test_model_key_follows_the_quantizer_sources(tmp_path, monkeypatch):
    case = _case()
    before = models._cache_key(case.shape, case.pattern)
    assert any(p.startswith("toolchain/quantize") for p in models.MODEL_SOURCES)
    real = cache_key.source_fingerprint
    monkeypatch.setattr(cache_key, "source_fingerprint",
                        lambda paths, root=REPO_ROOT: real(paths, root) + (
                            "-edited" if "toolchain/quantize" in paths else ""))
    assert models._cache_key(case.shape, case.pattern) != before


def test_our_rows_keys_do_not_depend_on_cmsis_nn(tmp_path, tree, monkeypatch):
    """Rows of ours keep their keys whether CMSIS-NN is there or not (only cmsis-nn rows key on
    its sources); a cmsis-nn row of the same case has a key of its own."""
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    case = _case()
    fingerprint = "r" * 32 + measure.source_fingerprint(tree)[:32]
    monkeypatch.setenv("CMSIS_NN_DIR", str(tmp_path / "nowhere"))
    absent = measure.job_key(_job(case), case, fingerprint)
    monkeypatch.delenv("CMSIS_NN_DIR")
    assert measure.job_key(_job(case), case, fingerprint) == absent
    ours = measure.Job(case.shape, case.pattern, "mps2-an386", "dense", "dense_dsp")
    cmsis = measure.Job(case.shape, case.pattern, "mps2-an386", "dense", "cmsis-nn",
                        backend=measure.CMSIS_NN)
    from benchmarks import cmsis_nn

    if cmsis_nn.locate()[0] is None:
        pytest.skip("CMSIS-NN absent: its rows' keys cannot be made")
    assert measure.job_key(cmsis, case, fingerprint) != measure.job_key(ours, case, fingerprint)
