"""Pruning schedules: target sparsity as a function of the training step.

Steps count training batches from 1, as tfmot's pruning wrapper does; a mask is recomputed on
a step where `updates(step)` holds, at `sparsity(step)`. The same objects drive tfmot's
wrappers (to_tfmot) and edgesparse's own masks, so both follow one schedule. Plain Python;
TensorFlow is imported only by to_tfmot.

  ConstantSchedule     the target from begin_step on (re-masked every `frequency` steps);
  PolynomialSchedule   Zhu & Gupta's automated gradual pruning: s_f + (s_i - s_f)(1 - p)^power,
                       p = (step - begin) / (end - begin) clipped to [0, 1];
  RampSchedule         s_i + (s_f - s_i) * ramp(p) for a user function ramp: [0, 1] -> [0, 1].
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from toolchain.errors import ToolchainError

SCHEDULE_NAMES = ("constant", "polynomial", "ramp")
RAMP_CHECK_POINTS = 101


def _check_sparsity(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise ToolchainError(f"{name} must be in [0, 1), got {value}")
    return v


def _should_update(step: int, begin: int, end: int, frequency: int) -> bool:
    in_range = step >= begin and (end < 0 or step <= end)
    return in_range and (step - begin) % frequency == 0


@dataclass(frozen=True)
class ConstantSchedule:
    target: float
    begin_step: int = 0
    end_step: int = -1
    frequency: int = 100

    def __post_init__(self):
        _check_sparsity("constant schedule target sparsity", self.target)
        _check_steps(self.begin_step, self.end_step, self.frequency, allow_open_end=True)

    @property
    def final(self) -> float:
        return self.target

    def sparsity(self, step: int) -> float:
        return self.target if step >= self.begin_step else 0.0

    def at_progress(self, p: float) -> float:
        return self.target

    def updates(self, step: int) -> bool:
        return _should_update(step, self.begin_step, self.end_step, self.frequency)

    def to_tfmot(self):
        import tensorflow_model_optimization as tfmot

        return tfmot.sparsity.keras.ConstantSparsity(self.target, self.begin_step, self.end_step,
                                                     self.frequency)

    def __str__(self) -> str:
        return f"constant({self.target:g} from step {self.begin_step}, every {self.frequency})"


@dataclass(frozen=True)
class PolynomialSchedule:
    initial: float
    final: float
    begin_step: int
    end_step: int
    frequency: int = 100
    power: float = 3.0

    def __post_init__(self):
        _check_sparsity("initial sparsity", self.initial)
        _check_sparsity("final sparsity", self.final)
        _check_steps(self.begin_step, self.end_step, self.frequency, allow_open_end=False)
        if self.power <= 0:
            raise ToolchainError(f"polynomial schedule power must be > 0, got {self.power}")

    def _progress(self, step: int) -> float:
        return min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))

    def at_progress(self, p: float) -> float:
        return self.final + (self.initial - self.final) * (1.0 - p) ** self.power

    def sparsity(self, step: int) -> float:
        return self.at_progress(self._progress(step))

    def updates(self, step: int) -> bool:
        return _should_update(step, self.begin_step, self.end_step, self.frequency)

    def to_tfmot(self):
        import tensorflow_model_optimization as tfmot

        return tfmot.sparsity.keras.PolynomialDecay(self.initial, self.final, self.begin_step,
                                                    self.end_step, self.power, self.frequency)

    def __str__(self) -> str:
        return (f"polynomial({self.initial:g}->{self.final:g}, steps {self.begin_step}-{self.end_step}, "
                f"every {self.frequency}, power {self.power:g})")


@dataclass(frozen=True)
class RampSchedule:
    ramp: Callable[[float], float]
    initial: float
    final: float
    begin_step: int
    end_step: int
    frequency: int = 100

    def __post_init__(self):
        _check_sparsity("initial sparsity", self.initial)
        _check_sparsity("final sparsity", self.final)
        _check_steps(self.begin_step, self.end_step, self.frequency, allow_open_end=False)
        check_ramp(self.ramp)

    def at_progress(self, p: float) -> float:
        return self.initial + (self.final - self.initial) * float(self.ramp(p))

    def sparsity(self, step: int) -> float:
        p = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        return self.at_progress(p)

    def updates(self, step: int) -> bool:
        return _should_update(step, self.begin_step, self.end_step, self.frequency)

    def to_tfmot(self):
        """A tfmot PruningSchedule that looks the sparsity up in a table of every step, so
        any Python ramp runs inside the traced training step."""
        table = [self.sparsity(s) for s in range(self.end_step + 1)]
        return _tabulated_class()(table, self.begin_step, self.end_step, self.frequency)

    def __str__(self) -> str:
        name = getattr(self.ramp, "__name__", "ramp")
        return (f"ramp {name}({self.initial:g}->{self.final:g}, steps {self.begin_step}-{self.end_step}, "
                f"every {self.frequency})")


Schedule = ConstantSchedule | PolynomialSchedule | RampSchedule


def _check_steps(begin: int, end: int, frequency: int, allow_open_end: bool) -> None:
    if begin < 0:
        raise ToolchainError(f"schedule begin_step must be >= 0, got {begin}")
    if frequency < 1:
        raise ToolchainError(f"schedule frequency must be >= 1 step, got {frequency}")
    if allow_open_end and end == -1:
        return
    if end <= begin:
        raise ToolchainError(f"schedule end_step ({end}) must be greater than begin_step ({begin})")


def check_ramp(ramp: Callable[[float], float]) -> None:
    """A ramp maps training progress in [0, 1] to the fraction of the target reached: values in
    [0, 1], never decreasing (masks only grow), and 1 at progress 1."""
    if not callable(ramp):
        raise ToolchainError(f"ramp must be a function of progress in [0, 1], got {ramp!r}")
    name = getattr(ramp, "__name__", repr(ramp))
    ps = np.linspace(0.0, 1.0, RAMP_CHECK_POINTS)
    try:
        values = np.array([float(ramp(float(p))) for p in ps])
    except Exception as exc:  # a user function may raise anything
        raise ToolchainError(f"ramp {name} failed: {type(exc).__name__}: {exc}") from exc
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1 + 1e-9:
        raise ToolchainError(f"ramp {name} must return values in [0, 1]; got {values.min():g}..{values.max():g}")
    if np.any(np.diff(values) < -1e-9):
        raise ToolchainError(f"ramp {name} must never decrease (pruned weights stay pruned)")
    if abs(values[-1] - 1.0) > 1e-6:
        raise ToolchainError(f"ramp {name} must reach 1 at progress 1 (the target), got {values[-1]:g}")


def piecewise_ramp(points) -> Callable[[float], float]:
    """Linear interpolation through (progress, fraction) points, e.g. [[0, 0], [0.5, 0.8], [1, 1]]."""
    try:
        pts = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise ToolchainError(f"ramp points must be [progress, fraction] pairs, got {points!r}") from None
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise ToolchainError(f"ramp points must be at least two [progress, fraction] pairs, got {points!r}")
    if pts[0, 0] != 0.0 or pts[-1, 0] != 1.0 or np.any(np.diff(pts[:, 0]) <= 0):
        raise ToolchainError("ramp points must have increasing progress values from 0 to 1")
    xs, ys = pts[:, 0].copy(), pts[:, 1].copy()

    def ramp(p: float) -> float:
        return float(np.interp(p, xs, ys))

    ramp.__name__ = "piecewise"
    check_ramp(ramp)
    return ramp


def load_ramp(spec: str) -> Callable[[float], float]:
    """'module:function' or 'path/to/file.py:function' -> the function (a user-supplied ramp)."""
    target, sep, func = str(spec).rpartition(":")
    if not sep or not target or not func:
        raise ToolchainError(f"ramp {spec!r}: use MODULE:FUNCTION or FILE.py:FUNCTION")
    try:
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise ToolchainError(f"ramp {spec!r}: file {path} does not exist")
            mod_spec = importlib.util.spec_from_file_location(f"_edgesparse_ramp_{path.stem}", path)
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(target)
    except ToolchainError:
        raise
    except Exception as exc:  # importing user code may raise anything
        raise ToolchainError(f"ramp {spec!r}: cannot import {target}: {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, func, None)
    if fn is None:
        raise ToolchainError(f"ramp {spec!r}: {target} has no function {func!r}")
    check_ramp(fn)
    return fn


def default_steps(total_steps: int) -> tuple[int, int]:
    """(end_step, frequency) for a gradual schedule over `total_steps` training steps: the
    target is reached at ~70 % of them (toolchain.prune.magnitude.pruning_steps)."""
    from toolchain.prune.magnitude import pruning_steps

    return pruning_steps(total_steps)


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule's shape, before the layer's target and the run's length are known."""

    kind: str = "polynomial"
    initial_sparsity: float = 0.0
    begin_step: int = 0
    end_step: int | None = None  # None: from the number of training steps
    frequency: int | None = None  # None: from the number of training steps
    power: float = 3.0
    ramp: Callable[[float], float] | None = None

    def __post_init__(self):
        if self.kind not in SCHEDULE_NAMES:
            raise ToolchainError(f"schedule {self.kind!r}: use one of {', '.join(SCHEDULE_NAMES)}")
        if self.kind == "ramp" and self.ramp is None:
            raise ToolchainError("schedule 'ramp' needs a ramp function (ramp:MODULE:FUNCTION on the "
                                 "command line, or ramp = [[0, 0], ..., [1, 1]] points in the config)")
        _check_sparsity("initial sparsity", self.initial_sparsity)

    def build(self, target: float, total_steps: int) -> Schedule:
        """The schedule reaching `target` within a run of `total_steps` steps (>= 1)."""
        end, freq = default_steps(total_steps)
        end = self.begin_step + end if self.end_step is None else self.end_step
        freq = freq if self.frequency is None else self.frequency
        if self.kind == "constant":
            return ConstantSchedule(target, self.begin_step, -1, freq)
        initial = min(self.initial_sparsity, target)
        if self.kind == "polynomial":
            return PolynomialSchedule(initial, target, self.begin_step, end, freq, self.power)
        return RampSchedule(self.ramp, initial, target, self.begin_step, end, freq)

    def round_targets(self, target: float, rounds: int) -> list[float]:
        """Sparsity after each round of iterative pruning: the schedule's shape sampled at
        progress 1/rounds, 2/rounds, ..., 1 (the last is the target)."""
        if rounds < 1:
            raise ToolchainError(f"iterative pruning needs at least 1 round, got {rounds}")
        proto = self.build(target, 10) if self.kind != "constant" else ConstantSchedule(target)
        return [target if r == rounds else float(proto.at_progress(r / rounds))
                for r in range(1, rounds + 1)]

    def __str__(self) -> str:
        if self.kind == "polynomial":
            return f"polynomial (power {self.power:g})"
        if self.kind == "ramp":
            return f"ramp ({getattr(self.ramp, '__name__', 'function')})"
        return "constant"


def one_shot_schedule(target: float) -> ConstantSchedule:
    """Prune to the target on the first training step, then keep the mask fixed."""
    return ConstantSchedule(target, begin_step=0, end_step=1, frequency=1)


_TABULATED = None


def _tabulated_class():
    global _TABULATED
    if _TABULATED is None:
        import tensorflow as tf
        import tensorflow_model_optimization as tfmot

        class TabulatedSparsity(tfmot.sparsity.keras.PruningSchedule):
            """Sparsity looked up per step in a precomputed table (edgesparse RampSchedule)."""

            def __init__(self, table, begin_step, end_step, frequency):
                self.table = [float(v) for v in table]
                self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency
                self._values = tf.constant(self.table, dtype=tf.float32)

            def __call__(self, step):
                index = tf.clip_by_value(tf.cast(step, tf.int32), 0, len(self.table) - 1)
                return (self._should_prune_in_step(step, self.begin_step, self.end_step, self.frequency),
                        tf.gather(self._values, index))

            def get_config(self):
                return {"class_name": self.__class__.__name__,
                        "config": {"table": self.table, "begin_step": self.begin_step,
                                   "end_step": self.end_step, "frequency": self.frequency}}

        _TABULATED = TabulatedSparsity
    return _TABULATED
