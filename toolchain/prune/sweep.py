"""Sensitivity sweep: accuracy against sparsity, per layer and for the whole model, for weight
(magnitude) pruning and for unit/filter removal; and the per-layer sparsity choice made from it.

Each point prunes a copy of the trained model in one shot, by magnitude (or by unit/filter
norm), and measures test accuracy. By default there is no fine-tuning per point (epochs=0):
this is the classic sensitivity analysis of Han et al. (2015) and Li et al. (2017), which ranks
layers by how much they tolerate, costs one evaluation per point (a digits CNN sweep takes
seconds), and is a lower bound on what fine-tuning reaches. epochs=N fine-tunes each point
for N epochs with the mask held fixed, at N epochs' cost per point.
"""
from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolchain.errors import DatasetError, ToolchainError
from toolchain.prune.config import (LayerSettings, PruneConfig, kernel_variable,
                                    layer_kind, plan_layers, prunable_layers)
from toolchain.prune.granularity import UNSTRUCTURED, fit_granularity, layer_mask
from toolchain.prune.logs import log

SWEEP_SPARSITIES = (0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)
CSV_COLUMNS = ("scope", "method", "granularity", "sparsity", "achieved", "accuracy", "drop_points",
               "kernel_weights", "nonzero")
WHOLE_MODEL = "all"
AUTO_ATTEMPTS = 3


@dataclass
class SweepPoint:
    scope: str  # a layer name, "all" (every layer the config prunes) or "none" (the baseline)
    method: str  # magnitude | units | filters | units+filters
    granularity: str
    sparsity: float  # requested
    achieved: float  # fraction of the scope's kernel weights zero, or of its units removed
    accuracy: float
    drop_points: float  # baseline accuracy - accuracy, in percentage points
    kernel_weights: int  # whole model, after pruning
    nonzero: int  # whole model, after pruning


@dataclass
class SweepResult:
    baseline: float
    points: list[SweepPoint] = field(default_factory=list)
    epochs: int = 0
    whole: dict[str, list[str]] = field(default_factory=dict)  # method -> layers of scope "all"

    def curve(self, scope: str, method: str) -> list[SweepPoint]:
        return sorted((p for p in self.points if p.scope == scope and p.method == method),
                      key=lambda p: p.sparsity)

    def curves(self) -> list[tuple[str, str]]:
        seen = []
        for p in self.points:
            if p.scope != "none" and (p.scope, p.method) not in seen:
                seen.append((p.scope, p.method))
        return seen


def check_sparsities(values) -> tuple[float, ...]:
    out = []
    for v in values:
        v = float(v)
        if not 0.0 < v < 1.0:
            raise ToolchainError(f"sweep sparsity {v} is outside (0, 1)")
        out.append(v)
    if not out:
        raise ToolchainError("the sweep needs at least one sparsity")
    return tuple(sorted(set(out)))


def parse_sparsities(text: str) -> tuple[float, ...]:
    try:
        return check_sparsities(float(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise ToolchainError(f"--sparsities {text!r}: use comma-separated fractions, e.g. 0.5,0.8,0.9") from None


def fast_accuracy(model, x, y, batch: int = 512) -> float:
    preds = [np.argmax(np.asarray(model(x[i:i + batch], training=False)), axis=-1)
             for i in range(0, len(x), batch)]
    return float(np.mean(np.concatenate(preds) == np.asarray(y)))


def _counts(model) -> tuple[int, int]:
    total = nonzero = 0
    for layer in prunable_layers(model):
        k = kernel_variable(layer).numpy()
        total += k.size
        nonzero += int(np.count_nonzero(k))
    return total, nonzero


def sweep(model, ds, sparsities=SWEEP_SPARSITIES, config: PruneConfig | None = None, *,
          epochs: int = 0, layers: list[str] | None = None, weight: bool = True,
          structured: bool = True, whole: bool = True, progress: bool = True,
          executor=None, cache_dir: Path | None | bool = None) -> SweepResult:
    """Prune each prunable layer alone (or those in `layers`) and the whole model ("all": the
    layers `config` would prune) to each sparsity, by magnitude (weight) and by unit/filter
    norm (structured), and measure test accuracy. The model is not changed.

    Each point is a unit of `executor` (default toolchain.executor.configured()), computed
    from the model and data alone (a fine-tuned point seeds itself from its name), so the
    result is the same on any number of workers. Points are cached in `cache_dir` (default
    <cache>/units/sweep; False: no cache), so an interrupted sweep resumes."""
    from toolchain.executor import Unit, configured

    if ds.y_test is None:
        raise DatasetError(f"dataset {ds.name!r} has no labels ('y'); the sweep measures accuracy")
    config = config or PruneConfig()
    sparsities = check_sparsities(sparsities)
    if epochs < 0:
        raise ToolchainError(f"sweep fine-tune epochs must be >= 0, got {epochs}")
    executor = executor or configured()
    all_layers = [layer.name for layer in prunable_layers(model)]
    names = all_layers if layers is None else list(layers)
    plans = {p.name: p for p in plan_layers(model, config)}
    whole_weight = [n for n in all_layers if not plans[n].skipped]
    jobs = []  # (scope, method, layer names, sparsity)
    if weight:
        for scope in names + ([WHOLE_MODEL] if whole and whole_weight else []):
            scope_layers = whole_weight if scope == WHOLE_MODEL else [scope]
            fixed = config.granularity.fixed_sparsity
            for s in ((fixed,) if fixed is not None else sparsities):
                jobs.append((scope, "magnitude", scope_layers, s))
    if structured:
        from toolchain.prune.structured import structural_blocker

        eligible = [n for n in all_layers if layer_kind(model.get_layer(n)) in ("Dense", "Conv2D")
                    and structural_blocker(model, n) is None]
        whole_struct = [n for n in eligible if not plans[n].skipped]
        for scope in [n for n in names if n in eligible] + ([WHOLE_MODEL] if whole and whole_struct else []):
            scope_layers = whole_struct if scope == WHOLE_MODEL else [scope]
            kinds = {layer_kind(model.get_layer(n)) for n in scope_layers}
            method = "+".join(m for k, m in (("Dense", "units"), ("Conv2D", "filters")) if k in kinds)
            for s in sparsities:
                jobs.append((scope, method, scope_layers, s))

    shared = SweepInputs.of(model, ds, config, epochs)
    threads = executor.threads()
    base = shared.key_base(threads)
    units = [Unit("baseline", ("none", "none", [], 0.0), _unit_key(base, "none", "none", [], 0.0))]
    for scope, method, scope_layers, s in jobs:
        units.append(Unit(f"{scope} {method} {s:g}", (scope, method, list(scope_layers), s),
                          _unit_key(base, scope, method, scope_layers, s)))
    if cache_dir is None:
        from toolchain.cache_key import cache_root

        cache_dir = cache_root() / "units" / "sweep"
    outcome = executor.run(sweep_unit, units, shared, cache_dir=cache_dir or None, desc="sweep",
                           progress=progress)
    outcome.raise_failures("sweep points")
    points = [SweepPoint(**outcome.results[u.name]) for u in units]
    baseline = points[0].accuracy
    result = SweepResult(baseline, points[:1], epochs)
    for scope, method, scope_layers, _ in jobs:
        if scope == WHOLE_MODEL:
            result.whole[method] = list(scope_layers)
    for point in points[1:]:
        point.drop_points = round(100.0 * (baseline - point.accuracy), 4)
        result.points.append(point)
    return result


@dataclass(frozen=True)
class SweepInputs:
    """What every sweep point reads: the model (as .keras bytes, so any worker can load it),
    the data, the config and the fine-tune epochs."""
    model_keras: bytes
    model_sha: str
    ds: object
    config: PruneConfig
    epochs: int

    @classmethod
    def of(cls, model, ds, config: PruneConfig, epochs: int) -> "SweepInputs":
        import tempfile

        with tempfile.TemporaryDirectory(prefix="edgesparse-sweep-") as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            data = path.read_bytes()
        return cls(data, model_digest(model), ds, config, epochs)

    def key_base(self, threads: int) -> str:
        """The key of everything the points share: model, data, config, epochs, TensorFlow
        threads, the toolchain's sources and the versions of TensorFlow, Keras and numpy."""
        from toolchain.cache_key import CONVERTER_TOOLS, cache_key

        arrays = [self.ds.x_test, self.ds.y_test] + ([self.ds.x_train, self.ds.y_train]
                                                     if self.epochs else [])
        config = dataclasses.replace(self.config, verbose=None, logdir=None, layer_sources={},
                                     auto_sparsity=False)
        return cache_key({"unit": "sweep-point", "version": 1, "model": self.model_sha,
                          "data": _arrays_digest(arrays), "config": repr(config),
                          "epochs": self.epochs, "threads": threads},
                         sources=("toolchain",), tools=CONVERTER_TOOLS)


def model_digest(model) -> str:
    """sha256 of a Keras model's architecture and weights."""
    import hashlib

    h = hashlib.sha256(model.to_json().encode())
    for w in model.get_weights():
        h.update(str((w.dtype, w.shape)).encode())
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def _arrays_digest(arrays) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _unit_key(base: str, scope, method, scope_layers, s) -> str:
    import hashlib
    import json

    raw = json.dumps([base, scope, method, list(scope_layers), s])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


_STATE: dict = {}  # per process: the loaded model of the SweepInputs last seen


def _state(shared: SweepInputs) -> dict:
    import tempfile

    from toolchain.models.train import load_keras_model
    from toolchain.prune.methods import copy_model

    if _STATE.get("sha") != shared.model_sha:
        _STATE.clear()
        with tempfile.TemporaryDirectory(prefix="edgesparse-sweep-") as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(shared.model_keras)
            model = load_keras_model(path)
        work = copy_model(model)
        names = [layer.name for layer in prunable_layers(model)]
        _STATE.update(sha=shared.model_sha, model=model, work=work,
                      originals={n: kernel_variable(work.get_layer(n)).numpy() for n in names})
    plans_key = repr(shared.config)
    if _STATE.get("plans_key") != plans_key:
        _STATE["plans"] = {p.name: p for p in plan_layers(_STATE["model"], shared.config)}
        _STATE["plans_key"] = plans_key
    return _STATE


def sweep_unit(shared: SweepInputs, scope: str, method: str, scope_layers: list[str],
               s: float) -> dict:
    """One sweep point (scope "none": the unpruned baseline), as a SweepPoint's fields with
    drop_points 0 (the caller subtracts from the baseline)."""
    st = _state(shared)
    model, ds, config, epochs = st["model"], shared.ds, shared.config, shared.epochs
    if epochs:
        import zlib

        import tf_keras as keras

        keras.utils.set_random_seed((config.seed * 1_000_003 + zlib.crc32(
            f"{scope} {method} {s:g}".encode())) % 2**31)
    if scope == "none":
        total, nonzero = _counts(model)
        point = SweepPoint("none", "none", "unstructured", 0.0, 0.0,
                           fast_accuracy(model, ds.x_test, ds.y_test), 0.0, total, nonzero)
    elif method == "magnitude":
        point = _weight_point(model, st["work"], st["originals"], ds, scope, scope_layers, s,
                              config, epochs)
    else:
        point = _structured_point(model, ds, scope, method, scope_layers, s, st["plans"], config,
                                  epochs)
    return dataclasses.asdict(point)


def _weight_point(model, work, originals, ds, scope, scope_layers, s, config, epochs) -> SweepPoint:
    from toolchain.prune.methods import copy_model

    masks, grans = {}, set()
    for n in scope_layers:
        kind = layer_kind(work.get_layer(n))
        g, _ = fit_granularity(kind, originals[n].shape, config.granularity)
        grans.add(str(g))
        masks[n] = layer_mask(originals[n], kind, g, s)
    target = work if epochs == 0 else copy_model(model)
    for n, m in masks.items():
        kernel_variable(target.get_layer(n)).assign(originals[n] * m)
    if epochs:
        _finetune(target, ds, masks, config, epochs)
    acc = fast_accuracy(target, ds.x_test, ds.y_test)
    zeros = sum(int(np.sum(kernel_variable(target.get_layer(n)).numpy() == 0)) for n in scope_layers)
    size = sum(originals[n].size for n in scope_layers)
    total, nonzero = _counts(target)
    if target is work:
        for n in scope_layers:
            kernel_variable(work.get_layer(n)).assign(originals[n])
    return SweepPoint(scope, "magnitude", "/".join(sorted(grans)), s, zeros / size, acc, 0.0, total, nonzero)


def _structured_point(model, ds, scope, method, scope_layers, s, plans, config, epochs) -> SweepPoint:
    from toolchain.prune.structured import shrink_model, units_to_keep

    keep = {}
    for n in scope_layers:
        kernel = kernel_variable(model.get_layer(n)).numpy()
        norm = plans[n].norm if plans[n].structured else ("l2" if layer_kind(model.get_layer(n)) == "Dense" else "l1")
        keep[n] = units_to_keep(kernel, s, norm)
    small = shrink_model(model, keep)
    if epochs:
        _finetune(small, ds, {}, config, epochs)
    before = sum(int(kernel_variable(model.get_layer(n)).shape[-1]) for n in scope_layers)
    after = sum(len(k) for k in keep.values())
    total, nonzero = _counts(small)
    return SweepPoint(scope, method, "structured", s, 1.0 - after / before,
                      fast_accuracy(small, ds.x_test, ds.y_test), 0.0, total, nonzero)


def _finetune(model, ds, masks: dict, config: PruneConfig, epochs: int) -> None:
    from toolchain.models.train import compile_model
    from toolchain.prune.masking import MaskCallback, MaskEntry

    compile_model(model)
    entries = [MaskEntry(n, layer_kind(model.get_layer(n)), UNSTRUCTURED, None, m) for n, m in masks.items()]
    model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=config.batch_size, shuffle=True,
              verbose=0, callbacks=[MaskCallback(entries)])


# --- output ----------------------------------------------------------------------------------

def write_csv(result: SweepResult, path: Path) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for p in result.points:
            w.writerow([p.scope, p.method, p.granularity, f"{p.sparsity:g}", f"{p.achieved:.6f}",
                        f"{p.accuracy:.6f}", f"{p.drop_points:.4f}", p.kernel_weights, p.nonzero])
    tmp.replace(path)
    return path


def read_csv(path: Path) -> SweepResult:
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    points = [SweepPoint(r["scope"], r["method"], r["granularity"], float(r["sparsity"]),
                         float(r["achieved"]), float(r["accuracy"]), float(r["drop_points"]),
                         int(r["kernel_weights"]), int(r["nonzero"])) for r in rows]
    base = next(p.accuracy for p in points if p.scope == "none")
    return SweepResult(base, points)


def plot(result: SweepResult, path: Path, title: str = "", methods: str = "both") -> Path:
    """Accuracy against sparsity, a curve per layer and the whole model; one panel per method
    family (weight magnitude | units/filters), or only one of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = [("magnitude", "weight pruning (magnitude, one shot)"),
                ("structured", "unit / filter removal (norm, one shot)")]
    if methods != "both":
        families = [f for f in families if f[0] == methods]
    present = [(key, label) for key, label in families
               if any(_family(m) == key for _, m in result.curves())]
    fig, axes = plt.subplots(1, max(1, len(present)), figsize=(6.2 * max(1, len(present)), 4.4), squeeze=False)
    levels = sorted({p.sparsity for p in result.points if p.scope != "none"} | {0.0})
    xpos = {s: i for i, s in enumerate(levels)}
    for ax, (key, label) in zip(axes[0], present):
        for scope, method in result.curves():
            if _family(method) != key:
                continue
            pts = result.curve(scope, method)
            xs = [0] + [xpos[p.sparsity] for p in pts]
            ys = [100 * result.baseline] + [100 * p.accuracy for p in pts]
            whole = scope == WHOLE_MODEL
            layers = "+".join(result.whole.get(method, []))
            name = (f"whole model: {layers or 'all'} ({method})" if whole else f"{scope} ({method})")
            ax.plot(xs, ys, marker="o", ms=3, lw=2.4 if whole else 1.3, color="black" if whole else None,
                    label=name)
        ax.axhline(100 * result.baseline, ls=":", color="grey", lw=1)
        ax.set_xticks(range(len(levels)), [f"{s:.0%}" for s in levels], fontsize=8)
        ax.set_xlabel("sparsity (fraction of the scope's weights / units removed)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(label + ("" if not result.epochs else f", {result.epochs} fine-tune epoch(s)"), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def _family(method: str) -> str:
    return "magnitude" if method == "magnitude" else "structured"


def write_outputs(result: SweepResult, out: Path, title: str = "") -> list[Path]:
    """sweep.csv, sweep.png (both families), sweep_magnitude.png and sweep_structured.png."""
    out = Path(out)
    files = [write_csv(result, out / "sweep.csv"), plot(result, out / "sweep.png", title)]
    for key in ("magnitude", "structured"):
        if any(_family(m) == key for _, m in result.curves()):
            files.append(plot(result, out / f"sweep_{key}.png", title, methods=key))
    return files


# --- choosing per-layer sparsity -------------------------------------------------------------

def pick_sparsities(result: SweepResult, max_drop_points: float, layers: list[str],
                    method: str = "magnitude") -> dict[str, float]:
    """Per layer, the highest swept sparsity at which that layer alone, and at every lower swept
    sparsity, loses at most `max_drop_points` accuracy points; 0.0 when none does."""
    picked = {}
    for name in layers:
        curve = result.curve(name, method)
        best = 0.0
        for p in sorted(curve, key=lambda p: p.sparsity):
            if p.drop_points > max_drop_points + 1e-9:
                break
            best = p.sparsity
        picked[name] = best
    return picked


def auto_prune(model, ds, config: PruneConfig, out: Path | None = None, executor=None):
    """Sweep each layer the config prunes, give each the highest sparsity whose single-layer drop
    stays within config.max_accuracy_drop points, prune with those targets, and if the pruned,
    fine-tuned model still loses more than that, step every layer down one swept level and
    retry (at most AUTO_ATTEMPTS times). Writes the sweep into `out` if given; the sweep's
    points run on `executor` (toolchain.executor; default this process)."""
    from toolchain.prune.methods import prune_model

    if config.granularity.kind == "nm":
        raise ToolchainError(f"--auto-sparsity picks per-layer sparsity, but {config.granularity} fixes it; "
                             "use unstructured or block granularity")
    plans = [p for p in plan_layers(model, config) if not p.skipped]
    if not plans:
        raise ToolchainError("--auto-sparsity: no layer is left to prune (all skipped or spared)")
    weight = [p.name for p in plans if not p.structured]
    struct = [p.name for p in plans if p.structured]
    log(f"auto-sparsity: sweeping {', '.join(p.name for p in plans)} at "
        f"{', '.join(f'{s:g}' for s in config.sweep_sparsities)} (one shot, no fine-tuning)")
    sw = sweep(model, ds, config.sweep_sparsities, config, layers=[p.name for p in plans],
               weight=bool(weight), structured=bool(struct), whole=False,
               progress=config.verbose != 0, executor=executor)
    if out is not None:
        write_outputs(sw, out, f"{model.name}: sensitivity")
    picked = pick_sparsities(sw, config.max_accuracy_drop, weight)
    for name in struct:
        p = next(p for p in plans if p.name == name)
        picked.update(pick_sparsities(sw, config.max_accuracy_drop, [name], method=p.method))
    levels = (0.0,) + tuple(config.sweep_sparsities)
    attempts = []
    result = None
    for attempt in range(AUTO_ATTEMPTS):
        explicit = {n: s for n, s in config.layers.items() if s.sparsity is not None}
        layers = dict(config.layers)
        for name, s in picked.items():
            if name not in explicit:
                layers[name] = layers.get(name, LayerSettings()).overridden_by(LayerSettings(sparsity=s))
        cfg = dataclasses.replace(config, layers=layers, auto_sparsity=False)
        log(f"auto-sparsity attempt {attempt + 1}: " + ", ".join(f"{n} {s:.0%}" for n, s in picked.items()))
        result = prune_model(model, ds, cfg)
        drop = 100.0 * (result.accuracy["before"] - result.accuracy["after"])
        attempts.append({"sparsity": dict(picked), "accuracy": result.accuracy["after"],
                         "drop_points": round(drop, 4)})
        if drop <= config.max_accuracy_drop or all(s == 0.0 for s in picked.values()):
            break
        picked = {n: levels[max(0, levels.index(s) - 1)] for n, s in picked.items()}
    result.extra["auto_sparsity"] = {"max_accuracy_drop": config.max_accuracy_drop,
                                     "sweep_sparsities": list(config.sweep_sparsities),
                                     "attempts": attempts,
                                     "within_limit": attempts[-1]["drop_points"] <= config.max_accuracy_drop}
    return result, sw

