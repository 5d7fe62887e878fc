"""`edgesparse zoo --out DIR` writes under DIR only; docs are written only where --docs says.
The models' training and runs are replaced by a fixed record (test_zoo.py runs them for real):
this checks the write path, in seconds."""
import hashlib
import json
from pathlib import Path

import pytest

from toolchain import zoo
from toolchain.cli import main

REPO = Path(__file__).resolve().parents[1]

RECORD = {
    "description": "a fixed record", "params": 100, "weight_params": 90,
    "nonzero_weights_pruned": 18, "weight_bytes": 400, "weight_bytes_dense": 600,
    "weight_bytes_float32": 1000, "arena_bytes": 64, "arena_bytes_dense": 64,
    "arena_bytes_tflm": 640, "arena_bytes_tflm_head": 64, "arena_vs_tflm": 0.1,
    "instructions_pruned": None, "instructions_dense": None,
    "instructions_pruned_all_dense_formats": None, "speedup": None, "mismatches": 0,
    "mismatches_detail": {}, "samples": {"host": 4, "qemu": 0}, "formats": ["csr8"],
    "ops": ["FULLY_CONNECTED"], "tflm": {}, "seconds": 0.0,
}


def _snapshot(root: Path, skip: Path | None = None) -> dict:
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and (skip is None or skip not in p.parents):
            files[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


@pytest.fixture
def fake_models(monkeypatch):
    def fake(name, out, sparsity, seed, qemu, train_epochs, prune_epochs):
        out.mkdir(parents=True)
        (out / "marker").write_text(name)
        return dict(RECORD)

    monkeypatch.setattr(zoo, "zoo_model", fake)


def test_zoo_writes_only_under_out(tmp_path, fake_models, monkeypatch):
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("untouched")
    docs_before = _snapshot(REPO / "docs")
    tmp_before = _snapshot(tmp_path)
    # the complete default run (every model, default settings) that used to write docs/
    assert main(["zoo", "--out", str(work / "zoo")]) == 0
    assert _snapshot(REPO / "docs") == docs_before
    assert _snapshot(tmp_path, skip=work / "zoo") == tmp_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt", "zoo"]
    written = json.loads((work / "zoo" / "zoo.json").read_text())
    from toolchain.models.zoo import ZOO

    assert list(written["models"]) == list(ZOO)
    assert (work / "zoo" / "ZOO.md").is_file() and (work / "zoo" / "zoo.png").is_file()


def test_zoo_docs_only_where_asked(tmp_path, fake_models):
    docs = tmp_path / "elsewhere" / "ZOO.md"
    assert main(["zoo", "--out", str(tmp_path / "zoo"), "--models", "sigmoid_head",
                 "--qemu", "none", "--docs", str(docs)]) == 0
    assert docs.read_text() == (tmp_path / "zoo" / "ZOO.md").read_text()
    assert "| sigmoid_head |" in docs.read_text()
    assert (docs.parent / "zoo.png").read_bytes() == (tmp_path / "zoo" / "zoo.png").read_bytes()
    assert sorted(p.name for p in docs.parent.iterdir()) == ["ZOO.md", "zoo.png"]
