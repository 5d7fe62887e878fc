"""Sensitivity sweep: points, values, files; per-layer picks from it."""
import numpy as np
import pytest

from toolchain.encode import patterns
from toolchain.prune.config import kernel_variable
from toolchain.prune.sweep import (SweepPoint, SweepResult, fast_accuracy, parse_sparsities,
                                   pick_sparsities, read_csv, sweep, write_outputs)


@pytest.mark.train
@pytest.mark.slow
def test_sweep_of_the_digits_cnn(cnn, digits, tmp_path):
    weights_before = [w.copy() for w in cnn.get_weights()]
    result = sweep(cnn, digits, (0.5, 0.95), progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(weights_before, cnn.get_weights()))  # untouched
    curves = result.curves()
    assert curves == [("conv1", "magnitude"), ("conv2", "magnitude"), ("fc1", "magnitude"),
                      ("logits", "magnitude"), ("all", "magnitude"), ("conv1", "filters"),
                      ("conv2", "filters"), ("fc1", "units"), ("all", "units+filters")]
    assert len(result.points) == 1 + len(curves) * 2
    base = result.points[0]
    assert base.scope == "none" and base.accuracy == pytest.approx(fast_accuracy(cnn, digits.x_test, digits.y_test))
    for p in result.points[1:]:
        # weights to within 1%; units to within half a unit of the 16 filters of the narrowest layer
        assert abs(p.achieved - p.sparsity) <= (0.01 if p.method == "magnitude" else 0.5 / 16), p
        assert p.drop_points == pytest.approx(100 * (result.baseline - p.accuracy), abs=1e-3)

    # a point is exactly "this layer alone pruned to this sparsity by magnitude"
    point = next(p for p in result.curve("fc1", "magnitude") if p.sparsity == 0.5)
    k = kernel_variable(cnn.get_layer("fc1")).numpy()
    mask = patterns.keras_from_rows(patterns.unstructured_mask(patterns.keras_rows(k), 0.5), k.shape)
    cnn.get_layer("fc1").kernel.assign(k * mask)
    assert point.accuracy == pytest.approx(fast_accuracy(cnn, digits.x_test, digits.y_test))
    assert point.nonzero == 13584 - 4096

    # the whole model ("all") prunes what the defaults prune: conv2 and fc1
    whole = next(p for p in result.curve("all", "units+filters") if p.sparsity == 0.5)
    assert whole.kernel_weights == 144 + 3 * 3 * 16 * 16 + 4 * 16 * 32 + 32 * 10
    assert result.curve("all", "magnitude")[-1].accuracy < result.baseline - 0.2
    assert result.curve("conv1", "magnitude")[0].accuracy > result.baseline - 0.1

    files = write_outputs(result, tmp_path, "digits_cnn")
    assert sorted(f.name for f in files) == ["sweep.csv", "sweep.png", "sweep_magnitude.png",
                                             "sweep_structured.png"]
    for f in files[1:]:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = read_csv(tmp_path / "sweep.csv")
    assert [(p.scope, p.method, p.sparsity) for p in again.points] == \
        [(p.scope, p.method, p.sparsity) for p in result.points]
    assert again.baseline == pytest.approx(result.baseline, abs=1e-6)


def test_pick_sparsities_takes_the_highest_level_before_the_first_breach():
    def pts(scope, drops):
        return [SweepPoint(scope, "magnitude", "unstructured", s, s, 0.9 - d / 100, d, 0, 0)
                for s, d in zip((0.5, 0.8, 0.9, 0.95), drops)]

    result = SweepResult(0.9, [*pts("a", [0.0, 0.5, 1.0, 3.0]), *pts("b", [2.0, 0.0, 0.0, 0.0]),
                               *pts("c", [0.0, 0.2, 1.5, 0.5])])
    assert pick_sparsities(result, 1.0, ["a", "b", "c"]) == {"a": 0.9, "b": 0.0, "c": 0.8}
    assert pick_sparsities(result, 5.0, ["a"]) == {"a": 0.95}


def test_parse_sparsities():
    assert parse_sparsities("0.9,0.5, 0.5") == (0.5, 0.9)
    from toolchain.errors import ToolchainError

    with pytest.raises(ToolchainError, match="outside"):
        parse_sparsities("0.5,1.0")
    with pytest.raises(ToolchainError, match="comma-separated"):
        parse_sparsities("half")
