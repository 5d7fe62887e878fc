"""compile --max-accuracy-drop / --compress max: what the flags mean and the combinations refused
(one line naming both flags, exit 2, no output directory)."""
import pytest

from toolchain.cli import _accuracy_budget, _prune_config, build_parser, main


def _args(*extra):
    return build_parser().parse_args(["compile", "m.keras", "--out", "o", *extra])


def test_compress_max_is_a_one_point_budget_and_max_accuracy_drop_alone_sets_it():
    assert _accuracy_budget(_args("--compress", "max")) == 1.0
    assert _accuracy_budget(_args("--max-accuracy-drop", "0.5")) == 0.5
    assert _accuracy_budget(_args("--compress", "max", "--max-accuracy-drop", "2")) == 2.0
    assert _accuracy_budget(_args("--compress", "max", "--share-weights", "auto", "--huffman")) == 1.0
    assert _accuracy_budget(_args()) is None
    assert _accuracy_budget(_args("--sparsity", "0.9")) is None


def test_auto_sparsity_keeps_its_per_layer_limit_and_default():
    args = _args("--auto-sparsity")
    assert _accuracy_budget(args) is None
    assert _prune_config(args, require_sparsity=False).max_accuracy_drop == 1.0
    args = _args("--auto-sparsity", "--max-accuracy-drop", "0.3")
    assert _accuracy_budget(args) is None
    assert _prune_config(args, require_sparsity=False).max_accuracy_drop == 0.3


@pytest.mark.parametrize("extra,names", [
    (["--compress", "max", "--sparsity", "0.9"], ["--compress max", "--sparsity 0.9"]),
    (["--compress", "max", "--share-weights", "3"], ["--compress max", "--share-weights 3"]),
    (["--compress", "max", "--auto-sparsity"], ["--compress max", "--auto-sparsity"]),
    (["--max-accuracy-drop", "0.5", "--epochs", "3"], ["--max-accuracy-drop 0.5", "--epochs 3"]),
    (["--max-accuracy-drop", "1", "--layer", "fc1:sparsity=0.5"], ["--max-accuracy-drop 1", "--layer"]),
    (["--compress", "max", "--granularity", "block:1x4"], ["--compress max", "--granularity"]),
])
def test_contradictions_are_refused_before_anything_is_written(tmp_path, capsys, extra, names):
    model = tmp_path / "m.keras"
    model.write_text("never read")
    out = tmp_path / "o"
    assert main(["compile", str(model), "--data", "digits28", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("edgesparse: error:")
    for name in names:
        assert name in err
    assert not out.exists()


def test_refused_for_a_tflite_and_for_a_negative_budget(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"xxxxTFL3")
    assert main(["compile", str(model), "--out", str(tmp_path / "o"), "--compress", "max"]) == 2
    assert "already quantized" in capsys.readouterr().err
    assert main(["compile", str(model), "--out", str(tmp_path / "o"),
                 "--max-accuracy-drop", "-1"]) == 2
    assert "--max-accuracy-drop -1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as e:
        main(["compile", str(model), "--out", str(tmp_path / "o"), "--compress", "min"])
    assert e.value.code == 2
