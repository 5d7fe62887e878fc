"""Schedules: the same numbers as tfmot's, validation messages, round targets, user ramps."""
import numpy as np
import pytest

from toolchain.errors import ToolchainError
from toolchain.prune.schedules import (ConstantSchedule, PolynomialSchedule, RampSchedule, ScheduleSpec,
                                       load_ramp, one_shot_schedule, piecewise_ramp)


def _tfmot_values(schedule, steps):
    out = []
    for step in steps:
        should, sparsity = schedule(np.int64(step))
        out.append((bool(should), float(sparsity)))
    return out


def test_polynomial_matches_tfmot_polynomial_decay():
    ours = PolynomialSchedule(0.1, 0.85, begin_step=3, end_step=63, frequency=6, power=3)
    steps = range(0, 80)
    theirs = _tfmot_values(ours.to_tfmot(), steps)
    for step, (should, sparsity) in zip(steps, theirs):
        assert ours.updates(step) == should, step
        assert ours.sparsity(step) == pytest.approx(sparsity, abs=1e-6), step
    assert ours.sparsity(63) == pytest.approx(0.85)
    assert ours.sparsity(33) == pytest.approx(0.85 + (0.1 - 0.85) * 0.5 ** 3)


def test_constant_matches_tfmot_constant_sparsity():
    ours = ConstantSchedule(0.7, begin_step=2, end_step=-1, frequency=5)
    theirs = _tfmot_values(ours.to_tfmot(), range(30))
    assert [s for s in range(30) if ours.updates(s)] == [s for s, (u, _) in enumerate(theirs) if u]
    assert all(v == pytest.approx(0.7) for _, v in theirs)


def test_one_shot_updates_on_the_first_step_only():
    s = one_shot_schedule(0.9)
    assert [step for step in range(200) if s.updates(step)] == [0, 1]
    assert s.sparsity(1) == 0.9


def test_ramp_is_tabulated_for_tfmot():
    ramp = piecewise_ramp([[0, 0], [0.5, 0.8], [1, 1]])
    ours = RampSchedule(ramp, 0.0, 0.6, begin_step=0, end_step=40, frequency=4)
    assert ours.sparsity(20) == pytest.approx(0.48)
    theirs = _tfmot_values(ours.to_tfmot(), range(50))
    for step, (should, sparsity) in enumerate(theirs):
        assert ours.updates(step) == should
        assert ours.sparsity(step) == pytest.approx(sparsity, abs=1e-6)


@pytest.mark.parametrize("fn,match", [
    (lambda p: 1.0 - p, "must never decrease"),
    (lambda p: 0.5 * p, "must reach 1 at progress 1"),
    (lambda p: 2 * p, r"must return values in \[0, 1\]"),
    (lambda p: 1 / 0, "failed: ZeroDivisionError"),
])
def test_ramp_validation(fn, match):
    with pytest.raises(ToolchainError, match=match):
        RampSchedule(fn, 0.0, 0.5, 0, 10, 1)


@pytest.mark.parametrize("make,message", [
    (lambda: PolynomialSchedule(0.0, 1.0, 0, 10), r"^final sparsity must be in \[0, 1\), got 1.0$"),
    (lambda: PolynomialSchedule(0.0, 0.5, 10, 10), r"^schedule end_step \(10\) must be greater than begin_step \(10\)$"),
    (lambda: PolynomialSchedule(0.0, 0.5, 0, 10, frequency=0), r"^schedule frequency must be >= 1 step, got 0$"),
    (lambda: PolynomialSchedule(0.0, 0.5, 0, 10, power=0), r"^polynomial schedule power must be > 0, got 0$"),
    (lambda: ConstantSchedule(-0.1), r"^constant schedule target sparsity must be in \[0, 1\), got -0.1$"),
    (lambda: ScheduleSpec("cubic"), r"^schedule 'cubic': use one of constant, polynomial, ramp$"),
])
def test_constructor_messages(make, message):
    with pytest.raises(ToolchainError, match=message):
        make()


def test_round_targets():
    spec = ScheduleSpec("polynomial", power=3)
    targets = spec.round_targets(0.9, 3)
    assert targets == pytest.approx([0.9 * (1 - (2 / 3) ** 3), 0.9 * (1 - (1 / 3) ** 3), 0.9])
    assert ScheduleSpec("polynomial", power=1).round_targets(0.8, 4) == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert ScheduleSpec("constant").round_targets(0.5, 2) == [0.5, 0.5]


def test_spec_build_ends_on_a_mask_update():
    for total in (5, 43, 86, 400):
        s = ScheduleSpec().build(0.8, total)
        assert s.end_step % s.frequency == 0 and s.end_step <= total
        assert s.updates(s.end_step) and s.sparsity(s.end_step) == pytest.approx(0.8)


def test_load_ramp_from_a_file(tmp_path):
    f = tmp_path / "myramp.py"
    f.write_text("def early(p):\n    return min(1.0, 2 * p)\n")
    ramp = load_ramp(f"{f}:early")
    assert ramp(0.25) == 0.5 and ramp(0.9) == 1.0
    with pytest.raises(ToolchainError, match="has no function 'late'"):
        load_ramp(f"{f}:late")
    with pytest.raises(ToolchainError, match="use MODULE:FUNCTION"):
        load_ramp("nocolon")
