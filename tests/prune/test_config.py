"""Per-layer settings: precedence of CLI, TOML file and --layer; default sparing; messages."""
import pytest

from toolchain.errors import InputFileError, ToolchainError
from toolchain.models import build_model
from toolchain.prune.config import build_config, parse_layer_spec, plan_layers


@pytest.fixture(scope="module")
def cnn_untrained():
    return build_model("digits_cnn", (8, 8, 1), 10)


@pytest.fixture(scope="module")
def mlp_untrained():
    return build_model("mlp_300_100", (28, 28, 1), 10)


def _plans(model, *args, **kw):
    return {p.name: p for p in plan_layers(model, build_config(*args, **kw))}


def test_defaults_spare_the_first_conv_and_the_classifier_and_say_so(cnn_untrained, mlp_untrained):
    p = _plans(cnn_untrained, {"sparsity": 0.8})
    assert [n for n, q in p.items() if q.skipped] == ["conv1", "logits"]
    assert "first conv (144 weights" in p["conv1"].notes[0]
    assert "last classifier (640 weights" in p["logits"].notes[0]
    assert "--prune-all" in p["conv1"].notes[0]
    assert p["conv2"].target == 0.8 and p["fc1"].target == 0.8
    m = _plans(mlp_untrained, {"sparsity": 0.8})
    assert [n for n, q in m.items() if q.skipped] == ["logits"]
    assert not any(q.skipped for q in _plans(cnn_untrained, {"sparsity": 0.8, "prune_all": True}).values())


def test_config_file_overrides_the_cli_per_layer(cnn_untrained, tmp_path):
    cfg = tmp_path / "prune.toml"
    cfg.write_text(
        'sparsity = 0.6\n'
        'granularity = "block:1x4"\n'
        '[layers.fc1]\n'
        'sparsity = 0.5\n'
        'granularity = "nm:1:4"\n'
        '[layers.conv2]\n'
        'method = "filters"\n'
        '[layers.logits]\n'
        'sparsity = 0.3\n')
    p = _plans(cnn_untrained, {"sparsity": 0.9, "granularity": "unstructured"}, None, cfg)
    # CLI globals beat the file's globals ...
    assert str(p["conv2"].granularity) == "unstructured"
    assert p["conv1"].skipped  # still spared by default: the file does not name it
    # ... and the file's [layers.*] beat the CLI globals
    assert str(p["fc1"].granularity) == "nm:1:4" and p["fc1"].target == 0.75
    assert p["conv2"].method == "filters" and p["conv2"].target == 0.9
    assert not p["logits"].skipped and p["logits"].target == 0.3  # naming it un-spares it
    # --layer beats the file for the keys it names
    p = _plans(cnn_untrained, {"sparsity": 0.9}, ["fc1:sparsity=0.7,granularity=unstructured", "conv2:skip"], cfg)
    assert p["fc1"].target == 0.7 and str(p["fc1"].granularity) == "unstructured"
    assert p["conv2"].skipped and p["conv2"].notes == ["skip requested"]


def test_file_globals_apply_without_cli(cnn_untrained, tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text('sparsity = 0.55\nmode = "iterative"\nrounds = 5\nprune_all = true\n'
                   '[schedule]\nkind = "polynomial"\npower = 1\nfrequency = 7\n')
    c = build_config({}, None, cfg)
    assert (c.sparsity, c.mode, c.rounds, c.spare_defaults) == (0.55, "iterative", 5, False)
    assert c.schedule.power == 1 and c.schedule.frequency == 7
    assert build_config({"sparsity": 0.9}, None, cfg).sparsity == 0.9


def test_ramp_points_in_the_config(tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text('[schedule]\nramp = [[0.0, 0.0], [0.5, 0.9], [1.0, 1.0]]\n')
    c = build_config({"sparsity": 0.8}, None, cfg)
    assert c.schedule.kind == "ramp"
    assert c.schedule.build(0.8, 100).at_progress(0.5) == pytest.approx(0.72)


@pytest.mark.parametrize("text,match", [
    ("sparsty = 0.5\n", r"p.toml: unknown key 'sparsty'; top-level keys are"),
    ("[layers.fc1]\nsparsity = 1.5\n", r"p.toml \[layers.fc1\]: sparsity 1.5 is outside \[0, 1\)"),
    ("[layers.fc1]\ngranularity = 'nm:4:2'\n", r"p.toml \[layers.fc1\]: granularity 'nm:4:2'"),
    ("[layers.fc1]\nmethod = 'random'\n", r"\[layers.fc1\]: method 'random': use one of magnitude, l1, units, filters"),
    ("[layers.fc1]\nkeep = true\n", r"\[layers.fc1\]: unknown key 'keep'"),
    ("[schedule]\nkind = 'cubic'\n", r"p.toml \[schedule\]: schedule 'cubic'"),
    ("sparsity = [\n", r"p.toml: not valid TOML"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, match):
    cfg = tmp_path / "p.toml"
    cfg.write_text(text)
    with pytest.raises(ToolchainError, match=match):
        build_config({}, None, cfg)


def test_unknown_layer_names_the_source_and_the_prunable_layers(cnn_untrained, tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text("[layers.fc9]\nskip = true\n")
    with pytest.raises(ToolchainError, match=r"\[layers.fc9\]: layer 'fc9' is not a layer of the model; "
                                             r"prunable layers of 'digits_cnn': conv1, conv2, fc1, logits"):
        plan_layers(cnn_untrained, build_config({}, None, cfg))
    with pytest.raises(ToolchainError, match=r"layer 'pool1' is a MaxPooling2D, which has no prunable kernel"):
        plan_layers(cnn_untrained, build_config({}, ["pool1:skip"]))
    with pytest.raises(InputFileError, match="config file .*missing.toml does not exist"):
        build_config({}, None, tmp_path / "missing.toml")


@pytest.mark.parametrize("spec,expected", [
    ("fc1:skip", ("fc1", {"skip": True})),
    ("fc1:sparsity=0.9,granularity=nm:2:4", ("fc1", {"sparsity": 0.9, "granularity": "nm:2:4"})),
    ("conv2:method=filters,norm=l2", ("conv2", {"method": "filters", "norm": "l2"})),
])
def test_parse_layer_spec(spec, expected):
    name, s = parse_layer_spec(spec)
    assert name == expected[0]
    for key, value in expected[1].items():
        got = getattr(s, key)
        assert (str(got) if key == "granularity" else got) == value


@pytest.mark.parametrize("spec", ["fc1", "fc1:", ":skip", "fc1:sparsity", "fc1:color=red"])
def test_parse_layer_spec_rejects(spec):
    with pytest.raises(ToolchainError, match="--layer"):
        parse_layer_spec(spec)


def test_nm_and_structured_notes(cnn_untrained):
    p = _plans(cnn_untrained, {"sparsity": 0.8, "granularity": "nm:2:4", "prune_all": True})
    assert p["conv1"].granularity.kind == "unstructured" and p["conv1"].target == 0.5
    assert "not a multiple of M=4" in p["conv1"].fit_note
    assert p["fc1"].target == 0.5 and "fixes the sparsity at 50% (requested 80%)" in p["fc1"].fit_note
    q = _plans(cnn_untrained, {"sparsity": 0.5, "method": "units"})
    assert q["conv2"].method == "filters" and q["fc1"].method == "units"
    assert q["conv2"].norm == "l1" and q["fc1"].norm == "l2"
