"""What to prune and how: global settings, per-layer overrides, and the per-layer plan.

Sources, from weakest to strongest:
  1. built-in defaults (PruneConfig's field defaults);
  2. the top-level keys of a TOML config file (--config);
  3. options given on the command line (--sparsity, --method, ...);
  4. the config file's [layers.NAME] tables;
  5. --layer NAME:key=value,... on the command line.
So a per-layer setting in the config file overrides the command line's global value for that
layer, and --layer overrides both for the keys it names.

By default a few layers are spared (not pruned) and the plan says why: the first layer when
it is a convolution (few weights, sees the raw input: the most sensitive layer), the last
layer when it is a Dense classifier (it decides the class scores), and any layer with fewer
than SMALL_LAYER_WEIGHTS weights (pruning saves little). Naming a layer in [layers.NAME] or
--layer, or passing --prune-all, prunes it anyway.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (pyproject.toml)
    import tomli as tomllib

from toolchain.errors import InputFileError, ToolchainError
from toolchain.prune.granularity import (UNSTRUCTURED, Granularity, fit_granularity,
                                         parse_granularity)
from toolchain.prune.schedules import SCHEDULE_NAMES, ScheduleSpec, load_ramp, piecewise_ramp

METHODS = ("magnitude", "l1", "units", "filters")
STRUCTURED_METHODS = ("units", "filters")
MODES = ("one-shot", "iterative", "gradual")
NORMS = ("l1", "l2")
SMALL_LAYER_WEIGHTS = 1024
DEFAULT_EPOCHS = 4
DEFAULT_ROUNDS = 3
DEFAULT_L1 = 1e-3

LAYER_KEYS = ("skip", "sparsity", "method", "granularity", "threshold", "norm")
GLOBAL_KEYS = ("sparsity", "method", "granularity", "mode", "schedule", "epochs", "rounds", "l1",
               "threshold", "norm", "prune_all", "layers")
SCHEDULE_KEYS = ("kind", "initial_sparsity", "begin_step", "end_step", "frequency", "power", "ramp")


@dataclass
class LayerSettings:
    """Per-layer overrides; None means "not set here"."""

    skip: bool | None = None
    sparsity: float | None = None
    method: str | None = None
    granularity: Granularity | None = None
    threshold: float | None = None
    norm: str | None = None

    def overridden_by(self, other: "LayerSettings") -> "LayerSettings":
        merged = dataclasses.replace(self)
        for f in dataclasses.fields(self):
            value = getattr(other, f.name)
            if value is not None:
                setattr(merged, f.name, value)
        return merged


@dataclass
class PruneConfig:
    sparsity: float = 0.8
    method: str = "magnitude"
    granularity: Granularity = UNSTRUCTURED
    mode: str = "gradual"
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    epochs: int = DEFAULT_EPOCHS  # fine-tune epochs (per round when iterative)
    rounds: int = DEFAULT_ROUNDS
    l1: float = DEFAULT_L1  # L1 penalty: l1 * sum(|w|) per kernel, as keras.regularizers.L1
    threshold: float | None = None  # |w| < threshold is pruned (method l1); None: from sparsity
    norm: str | None = None  # unit/filter ranking: None = l2 for units, l1 for filters
    spare_defaults: bool = True
    layers: dict[str, LayerSettings] = field(default_factory=dict)
    layer_sources: dict[str, str] = field(default_factory=dict)  # name -> where it was set
    auto_sparsity: bool = False
    max_accuracy_drop: float = 1.0  # accuracy points
    sweep_sparsities: tuple[float, ...] = (0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)
    logdir: Path | None = None
    batch_size: int = 32
    seed: int = 0
    verbose: int | None = 1

    def __post_init__(self):
        check_settings(LayerSettings(sparsity=self.sparsity, method=self.method,
                                     threshold=self.threshold, norm=self.norm), "prune config")
        if self.mode not in MODES:
            raise ToolchainError(f"mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.epochs < 0:
            raise ToolchainError(f"epochs must be >= 0, got {self.epochs}")
        if self.rounds < 1:
            raise ToolchainError(f"iterative pruning needs at least 1 round, got {self.rounds}")
        if self.l1 < 0:
            raise ToolchainError(f"l1 penalty must be >= 0, got {self.l1}")
        if self.max_accuracy_drop < 0:
            raise ToolchainError(f"max accuracy drop must be >= 0 points, got {self.max_accuracy_drop}")

    def global_settings(self) -> LayerSettings:
        return LayerSettings(skip=False, sparsity=self.sparsity, method=self.method,
                             granularity=self.granularity, threshold=self.threshold, norm=self.norm)


def check_settings(s: LayerSettings, where: str) -> None:
    if s.sparsity is not None and not 0.0 <= float(s.sparsity) < 1.0:
        raise ToolchainError(f"{where}: sparsity {s.sparsity} is outside [0, 1); e.g. 0.8 for 80% zeros")
    if s.method is not None and s.method not in METHODS:
        raise ToolchainError(f"{where}: method {s.method!r}: use one of {', '.join(METHODS)}")
    if s.norm is not None and s.norm not in NORMS:
        raise ToolchainError(f"{where}: norm {s.norm!r}: use l1 or l2")
    if s.threshold is not None and float(s.threshold) < 0:
        raise ToolchainError(f"{where}: threshold must be >= 0, got {s.threshold}")


# --- per-layer plan ---------------------------------------------------------------------------

@dataclass
class LayerPlan:
    """What happens to one prunable layer, and (after pruning) what happened."""

    name: str
    kind: str  # Dense | Conv2D | DepthwiseConv2D
    kernel_shape: tuple[int, ...]
    method: str
    granularity: Granularity
    target: float
    skipped: bool = False
    notes: list[str] = field(default_factory=list)
    threshold: float | None = None
    norm: str = "l2"
    backend: str | None = None  # "tfmot" or "edgesparse" once pruned
    requested: Granularity = UNSTRUCTURED  # what the settings asked for; granularity is what fits
    requested_target: float = 0.0
    fit_note: str | None = None
    units_before: int | None = None
    units_after: int | None = None

    @property
    def structured(self) -> bool:
        return self.method in STRUCTURED_METHODS

    @property
    def weights(self) -> int:
        n = 1
        for d in self.kernel_shape:
            n *= int(d)
        return n


def prunable_layers(model) -> list:
    """The model's Dense / Conv2D / DepthwiseConv2D layers, in model order."""
    return [layer for layer in model.layers if layer_kind(layer) is not None]


def layer_kind(layer) -> str | None:
    import tf_keras as keras

    # DepthwiseConv2D subclasses Conv2D in Keras, so it is tested first.
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "DepthwiseConv2D"
    if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
        return "Conv2D"
    if isinstance(layer, keras.layers.Dense):
        return "Dense"
    return None


def kernel_variable(layer):
    return layer.depthwise_kernel if layer_kind(layer) == "DepthwiseConv2D" else layer.kernel


def default_spare_reason(index: int, count: int, kind: str, weights: int) -> str | None:
    if index == 0 and kind in ("Conv2D", "DepthwiseConv2D"):
        return (f"spared by default: first conv ({weights} weights; it sees the raw input and is the "
                "most sensitive layer)")
    if index == count - 1 and kind == "Dense":
        return (f"spared by default: last classifier ({weights} weights; it decides the class scores)")
    if weights < SMALL_LAYER_WEIGHTS:
        return f"spared by default: small ({weights} weights < {SMALL_LAYER_WEIGHTS}; pruning saves little)"
    return None


SPARE_HINT = "; name it in [layers.NAME] or --layer, or pass --prune-all, to prune it"


def plan_layers(model, config: PruneConfig) -> list[LayerPlan]:
    """Resolve every prunable layer's settings into a LayerPlan (see the module docstring)."""
    layers = prunable_layers(model)
    by_name = {layer.name: layer for layer in layers}
    for name, source in ((n, config.layer_sources.get(n, "per-layer settings")) for n in config.layers):
        if name not in by_name:
            other = next((l for l in model.layers if l.name == name), None)
            what = (f"is a {type(other).__name__}, which has no prunable kernel" if other is not None
                    else "is not a layer of the model")
            raise ToolchainError(f"{source}: layer {name!r} {what}; prunable layers of {model.name!r}: "
                                 f"{', '.join(by_name) or 'none'}")
    base = config.global_settings()
    plans = []
    for i, layer in enumerate(layers):
        kind = layer_kind(layer)
        shape = tuple(int(d) for d in kernel_variable(layer).shape)
        explicit = config.layers.get(layer.name)
        s = base.overridden_by(explicit) if explicit is not None else base
        method = s.method
        if method in STRUCTURED_METHODS and kind in ("Dense", "Conv2D"):
            method = "units" if kind == "Dense" else "filters"
        plan = LayerPlan(layer.name, kind, shape, method, s.granularity or UNSTRUCTURED,
                         float(s.sparsity), threshold=s.threshold,
                         requested=s.granularity or UNSTRUCTURED, requested_target=float(s.sparsity))
        plan.norm = s.norm or ("l2" if method == "units" else "l1")
        weights = plan.weights
        if s.skip:
            plan.skipped = True
            plan.notes.append("skip requested")
        elif config.spare_defaults and explicit is None:
            reason = default_spare_reason(i, len(layers), kind, weights)
            if reason:
                plan.skipped = True
                plan.notes.append(reason + SPARE_HINT)
        if not plan.skipped and plan.structured and kind == "DepthwiseConv2D":
            plan.skipped = True
            plan.notes.append("DepthwiseConv2D has no units or filters of its own (its channels are "
                              "its input's); prune the filters of the conv before it")
        fit_plan(plan)
        if not plan.skipped and plan.target <= 0.0 and not (method == "l1" and plan.threshold):
            plan.skipped = True
            plan.notes.append("target sparsity 0")
        plans.append(plan)
    return plans


def fit_plan(plan: LayerPlan) -> None:
    """Set plan.granularity and plan.target from what was requested and the kernel's current
    shape (called again after structured pruning changed the shape)."""
    plan.fit_note = None
    plan.granularity, plan.target = plan.requested, plan.requested_target
    if plan.structured or plan.skipped:
        plan.granularity = UNSTRUCTURED
        return
    if plan.method == "l1" and plan.requested.kind != "unstructured":
        plan.fit_note = f"l1 threshold pruning is elementwise (|w| < t); {plan.requested} not applied"
        plan.granularity = UNSTRUCTURED
        return
    g, note = fit_granularity(plan.kind, plan.kernel_shape, plan.requested)
    plan.granularity, plan.fit_note = g, note
    fixed = plan.requested.fixed_sparsity
    if fixed is not None:
        if g.kind == "nm" and abs(fixed - plan.requested_target) > 1e-9:
            plan.fit_note = f"{g} fixes the sparsity at {fixed:.0%} (requested {plan.requested_target:.0%})"
        plan.target = fixed


# --- building a config from the command line and a TOML file ---------------------------------

def parse_layer_spec(spec: str) -> tuple[str, LayerSettings]:
    """'NAME:key=value,key=value' or 'NAME:skip' -> (NAME, LayerSettings).

    Keys: skip, sparsity, method, granularity, threshold, norm. A granularity value may hold
    colons (fc1:granularity=nm:2:4,sparsity=0.5)."""
    name, sep, rest = str(spec).partition(":")
    if not sep or not name or not rest:
        raise ToolchainError(f"--layer {spec!r}: use NAME:key=value[,key=value] (keys: "
                             f"{', '.join(LAYER_KEYS)}), e.g. fc1:sparsity=0.9 or conv1:skip")
    values = {}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq:
            if key in ("skip", "noskip"):
                values["skip"] = key == "skip"
                continue
            raise ToolchainError(f"--layer {spec!r}: {item!r} is not key=value")
        values[key] = value.strip()
    return name, layer_settings(values, f"--layer {spec!r}")


def layer_settings(values: dict, where: str) -> LayerSettings:
    unknown = sorted(set(values) - set(LAYER_KEYS))
    if unknown:
        raise ToolchainError(f"{where}: unknown key {unknown[0]!r}; per-layer keys are {', '.join(LAYER_KEYS)}")
    s = LayerSettings()
    try:
        if "skip" in values:
            s.skip = _bool(values["skip"], where, "skip")
        if "sparsity" in values:
            s.sparsity = float(values["sparsity"])
        if "threshold" in values:
            s.threshold = float(values["threshold"])
    except (TypeError, ValueError):
        raise ToolchainError(f"{where}: sparsity and threshold must be numbers") from None
    if "method" in values:
        s.method = str(values["method"])
    if "norm" in values:
        s.norm = str(values["norm"])
    if "granularity" in values:
        try:
            s.granularity = parse_granularity(values["granularity"])
        except ToolchainError as e:
            raise ToolchainError(f"{where}: {e}") from None
    check_settings(s, where)
    return s


def _bool(value, where: str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ToolchainError(f"{where}: {key} must be true or false, got {value!r}")


def load_toml(path: Path) -> dict:
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise InputFileError(f"config file {path} does not exist") from None
    except OSError as e:
        raise InputFileError(f"{path}: cannot read the config file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputFileError(f"{path}: not valid TOML: {e}") from None


def schedule_spec(kind: str | None = None, base: ScheduleSpec | None = None, **overrides) -> ScheduleSpec:
    """A ScheduleSpec from a kind ('constant' | 'polynomial' | 'ramp:MODULE:FUNC') and fields."""
    spec = base or ScheduleSpec()
    fields = {k: v for k, v in overrides.items() if v is not None}
    if kind is not None:
        kind = str(kind)
        if kind.startswith("ramp:"):
            fields["ramp"] = load_ramp(kind[len("ramp:"):])
            kind = "ramp"
        elif kind not in SCHEDULE_NAMES:
            raise ToolchainError(f"schedule {kind!r}: use constant, polynomial or ramp:MODULE:FUNCTION")
        fields["kind"] = kind
    return dataclasses.replace(spec, **fields)


def build_config(cli: dict | None = None, cli_layers: list[str] | None = None,
                 config_file: Path | None = None, **fixed) -> PruneConfig:
    """PruneConfig from command-line values (None = not given), --layer specs and a TOML file.

    `cli` keys: sparsity, method, granularity, mode, schedule, epochs, rounds, l1, threshold,
    norm, prune_all, skip (comma-separated names), initial_sparsity, begin_step, end_step,
    frequency, power. `fixed` sets other PruneConfig fields (logdir, seed, verbose, ...)."""
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    values: dict = {}
    sched = ScheduleSpec()
    layers: dict[str, LayerSettings] = {}
    sources: dict[str, str] = {}
    if config_file is not None:
        data = load_toml(config_file)
        where = str(config_file)
        unknown = sorted(set(data) - set(GLOBAL_KEYS))
        if unknown:
            raise ToolchainError(f"{where}: unknown key {unknown[0]!r}; top-level keys are "
                                 f"{', '.join(GLOBAL_KEYS)}")
        values.update(_global_values(data, where))
        if "schedule" in data:
            sched = _toml_schedule(data["schedule"], where)
        table = data.get("layers", {})
        if not isinstance(table, dict):
            raise ToolchainError(f"{where}: 'layers' must be a table of [layers.NAME] tables")
        for name, entry in table.items():
            if not isinstance(entry, dict):
                raise ToolchainError(f"{where}: [layers.{name}] must be a table of settings")
            layers[name] = layer_settings(entry, f"{where} [layers.{name}]")
            sources[name] = f"{where} [layers.{name}]"
    values.update(_global_values({k: v for k, v in cli.items() if k in GLOBAL_KEYS}, "command line"))
    sched = schedule_spec(cli.get("schedule"), sched,
                          **{k: cli.get(k) for k in SCHEDULE_KEYS if k not in ("kind", "ramp")})
    for name in (n.strip() for n in cli.get("skip", "").split(",") if n.strip()):
        layers[name] = layers.get(name, LayerSettings()).overridden_by(LayerSettings(skip=True))
        sources.setdefault(name, "--skip")
    for spec in cli_layers or []:
        name, s = parse_layer_spec(spec)
        layers[name] = layers.get(name, LayerSettings()).overridden_by(s)
        sources[name] = f"--layer {spec!r}"
    values.pop("schedule", None)
    prune_all = values.pop("prune_all", None)
    if prune_all is not None:
        values["spare_defaults"] = not prune_all
    return PruneConfig(schedule=sched, layers=layers, layer_sources=sources, **values, **fixed)


def _global_values(data: dict, where: str) -> dict:
    out = {}
    for key, value in data.items():
        if key in ("layers", "schedule"):
            continue
        if key == "granularity":
            out[key] = value if isinstance(value, Granularity) else parse_granularity(value)
        elif key in ("sparsity", "l1", "threshold"):
            out[key] = _number(value, where, key)
        elif key in ("epochs", "rounds"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ToolchainError(f"{where}: {key} must be an integer, got {value!r}")
            out[key] = value
        elif key == "prune_all":
            out[key] = _bool(value, where, key)
        elif key == "mode":
            if value not in MODES:
                raise ToolchainError(f"{where}: mode {value!r}: use one of {', '.join(MODES)}")
            out[key] = value
        else:
            out[key] = str(value)
    check_settings(LayerSettings(sparsity=out.get("sparsity"), method=out.get("method"),
                                 threshold=out.get("threshold"), norm=out.get("norm")), where)
    return out


def _number(value, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ToolchainError(f"{where}: {key} must be a number, got {value!r}") from None
    return float(value)


def _toml_schedule(value, where: str) -> ScheduleSpec:
    if isinstance(value, str):
        return schedule_spec(value)
    if not isinstance(value, dict):
        raise ToolchainError(f"{where}: schedule must be a name or a [schedule] table")
    unknown = sorted(set(value) - set(SCHEDULE_KEYS))
    if unknown:
        raise ToolchainError(f"{where}: [schedule] has unknown key {unknown[0]!r}; keys are "
                             f"{', '.join(SCHEDULE_KEYS)}")
    fields = {}
    for key in ("initial_sparsity", "power"):
        if key in value:
            fields[key] = _number(value[key], f"{where} [schedule]", key)
    for key in ("begin_step", "end_step", "frequency"):
        if key in value:
            if isinstance(value[key], bool) or not isinstance(value[key], int):
                raise ToolchainError(f"{where} [schedule]: {key} must be an integer, got {value[key]!r}")
            fields[key] = value[key]
    kind = value.get("kind", "polynomial")
    ramp = value.get("ramp")
    if ramp is not None:
        fields["ramp"] = load_ramp(ramp) if isinstance(ramp, str) else piecewise_ramp(ramp)
        if kind == "polynomial" and "kind" not in value:
            kind = "ramp"
    try:
        return schedule_spec(kind, **fields)
    except ToolchainError as e:
        raise ToolchainError(f"{where} [schedule]: {e}") from None
