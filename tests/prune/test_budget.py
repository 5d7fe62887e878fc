"""--max-accuracy-drop's search steps (toolchain.prune.budget): plain Python, no TensorFlow."""
import pytest

from toolchain.prune.budget import BudgetAttempt, config_toml, exhausted, step_down
from toolchain.prune.config import build_config

LEVELS = (0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)


def test_step_down_moves_every_layer_one_swept_level_lower():
    assert step_down({"fc1": 0.97, "fc2": 0.25, "logits": 0.0}, LEVELS) == \
        {"fc1": 0.95, "fc2": 0.0, "logits": 0.0}
    assert step_down({"fc1": 0.85}, LEVELS) == {"fc1": 0.8}  # not a level: the one below it
    assert exhausted(step_down(step_down({"a": 0.5}, LEVELS), LEVELS))
    assert not exhausted({"a": 0.0, "b": 0.25})


def test_attempt_within_budget_in_points():
    a = BudgetAttempt({"fc1": 0.9}, float_accuracy=0.969, int8_accuracy=0.959)
    assert a.drop_points == pytest.approx(1.0)
    assert a.within(1.0) and not a.within(0.9)
    assert BudgetAttempt({}, 0.9, 0.95).within(0.0)  # int8 better than float
    assert a.as_dict()["drop_points"] == pytest.approx(1.0)


def test_config_toml_is_a_config_file_the_prune_options_read(tmp_path):
    path = tmp_path / "compress_config.toml"
    path.write_text(config_toml({"fc1": 0.95, "fc-2": 0.8, "logits": 0.0},
                                {"fc1": 3, "fc-2": 4, "logits": 5}, 1.0))
    config = build_config({}, None, path)
    assert config.layers["fc1"].sparsity == 0.95
    assert config.layers["fc-2"].sparsity == 0.8
    assert config.layers["logits"].skip
    assert "# codebook bits: 3" in path.read_text()


def _attempt(sparsity, int8, blob):
    return BudgetAttempt(dict(sparsity), 0.98, int8, blob_bytes=blob)


def test_search_climbs_while_within_budget_and_keeps_the_smallest_blob():
    from toolchain.prune.budget import MAX_ATTEMPTS, chosen, next_sparsity

    tries = [_attempt({"fc1": 0.9, "fc2": 0.6}, 0.975, 31_000)]
    assert next_sparsity(tries, 1.0, LEVELS) == {"fc1": 0.95, "fc2": 0.7}
    tries.append(_attempt({"fc1": 0.95, "fc2": 0.7}, 0.972, 22_000))
    tries.append(_attempt({"fc1": 0.97, "fc2": 0.8}, 0.960, 19_000))  # 2 points: over
    assert chosen(tries, 1.0) == 1
    # then layer by layer from the smallest blob within budget, the layer keeping most first
    params = {"fc1": 235_200, "fc2": 30_000}
    assert next_sparsity(tries, 1.0, LEVELS, params=params) == {"fc1": 0.97, "fc2": 0.7}
    tries.append(_attempt({"fc1": 0.97, "fc2": 0.7}, 0.962, 20_000))  # over: halfway there
    assert next_sparsity(tries, 1.0, LEVELS, params=params) == {"fc1": 0.96, "fc2": 0.7}
    tries.append(_attempt({"fc1": 0.96, "fc2": 0.7}, 0.965, 21_500))  # over, and 0.955 is too
    assert next_sparsity(tries, 1.0, LEVELS, params=params) == {"fc1": 0.95, "fc2": 0.8}  # close
    tries.append(_attempt({"fc1": 0.95, "fc2": 0.8}, 0.975, 21_000))  # within: the new base
    assert chosen(tries, 1.0) == 5
    # fc1 keeps 5% of 235,200, fc2 20% of 30,000: fc1 first; 0.97 / 0.8 was over: 0.96
    assert next_sparsity(tries, 1.0, LEVELS, params=params) == {"fc1": 0.96, "fc2": 0.8}
    tries.append(_attempt({"fc1": 0.96, "fc2": 0.8}, 0.975, 21_200))  # within, larger: next layer
    assert next_sparsity(tries, 1.0, LEVELS, params=params) == {"fc1": 0.95, "fc2": 0.9}
    tries.append(_attempt({"fc1": 0.95, "fc2": 0.9}, 0.95, 20_500))  # over: 0.85
    assert next_sparsity(tries, 1.0, LEVELS, params=params, max_attempts=8) is None  # 8 run
    assert MAX_ATTEMPTS > 8 and next_sparsity(tries, 1.0, LEVELS, params=params) is not None
    assert next_sparsity(tries, 1.0, LEVELS, params=params, max_attempts=20) == {"fc1": 0.95, "fc2": 0.85}
    tries.append(_attempt({"fc1": 0.95, "fc2": 0.85}, 0.95, 20_700))  # over: 0.825, then 0.8125
    assert next_sparsity(tries, 1.0, LEVELS, params=params, max_attempts=20) == {"fc1": 0.95, "fc2": 0.825}
    tries.append(_attempt({"fc1": 0.95, "fc2": 0.825}, 0.95, 20_800))
    assert next_sparsity(tries, 1.0, LEVELS, params=params, max_attempts=20) == {"fc1": 0.95, "fc2": 0.8125}
    tries.append(_attempt({"fc1": 0.95, "fc2": 0.8125}, 0.95, 20_900))  # 0.80625: under 0.01
    assert next_sparsity(tries, 1.0, LEVELS, params=params, max_attempts=20) is None  # all tried
    assert next_sparsity(tries[:5], 1.0, LEVELS, params=params, max_attempts=5) is None
    # without params, the layers' order
    assert next_sparsity(tries[:3], 1.0, LEVELS) == {"fc1": 0.97, "fc2": 0.7}
    assert next_sparsity(tries[:3], 1.0, LEVELS, params={"fc1": 10, "fc2": 30_000}) == \
        {"fc1": 0.95, "fc2": 0.8}


def test_search_steps_down_until_within_budget_or_dense():
    from toolchain.prune.budget import chosen, next_sparsity

    tries = [_attempt({"fc1": 0.5}, 0.90, 50_000)]
    assert next_sparsity(tries, 1.0, LEVELS) == {"fc1": 0.25}
    tries.append(_attempt({"fc1": 0.25}, 0.95, 60_000))
    assert next_sparsity(tries, 1.0, LEVELS) == {"fc1": 0.0}
    tries.append(_attempt({"fc1": 0.0}, 0.96, 70_000))
    assert next_sparsity(tries, 1.0, LEVELS) is None  # dense and still over: nothing left
    assert chosen(tries, 1.0) == 2  # none within: the last, least pruned
    assert next_sparsity(tries[:1], 1.0, LEVELS, max_attempts=1) is None
    top = [_attempt({"fc1": 0.99}, 0.98, 9_000)]
    assert next_sparsity(top, 1.0, LEVELS) is None  # within at the top level: done


def test_search_steps_past_the_sweep():
    """A layer within budget at the sweep's top level (0.99) may still go to 0.995."""
    from toolchain.prune.budget import BudgetAttempt, next_sparsity, search_levels
    from toolchain.prune.sweep import SWEEP_SPARSITIES

    levels = search_levels(SWEEP_SPARSITIES)
    assert levels[-2:] == (0.99, 0.995) and set(SWEEP_SPARSITIES) < set(levels)
    tries = [BudgetAttempt({"fc1": 0.99, "fc2": 0.9}, 0.97, 0.97, blob_bytes=100)]
    params = {"fc1": 400_000, "fc2": 5_000}
    assert next_sparsity(tries, 1.0, levels, params=params) == {"fc1": 0.995, "fc2": 0.95}
    tries.append(BudgetAttempt({"fc1": 0.995, "fc2": 0.95}, 0.97, 0.90, blob_bytes=90))
    assert next_sparsity(tries, 1.0, levels, params=params) == {"fc1": 0.995, "fc2": 0.9}
