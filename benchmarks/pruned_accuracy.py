"""Accuracy of the pruned MLPerf Tiny architectures (issue 19): each zoo model trained on its
zoo data until the validation score stops improving, then pruned to 50, 80 and 90% of every
weighted layer (Conv2D, Dense and DepthwiseConv2D kernels, unstructured; for the models with
depthwise layers, also 80 and 90% with the depthwise kernels left dense) the way
`edgesparse compile --sparsity S` prunes by default: the polynomial ramp, then fine-tuning
until the validation split stops improving (toolchain.prune.magnitude.prune_recovering), the
best epoch kept. Each model, dense and pruned, is converted to int8 and scored on the test
split through TFLM's reference kernels (which every edgesparse build matches byte for byte),
then compiled with `--optimize speed` for mps2-an386 and run in QEMU: instructions per
inference, every output byte compared with TFLM.

The zoo's generators, with larger splits than the zoo's smoke-test sizes: 3,072 training
samples (a fifth held out for validation) and 1,024 test samples; the tinted-digit images of
the test split come from the digits' own test split (no digit image in both). The keyword and
image tasks get more noise than the zoo's (KWS 2.0 instead of 0.4, images 0.3 instead of
0.05): at the zoo's levels the dense models reach 100%, where no pruning loss could show.

Scores, in points: top-1 accuracy in % for the classifiers; for the AD autoencoder, MLPerf
Tiny's metric, the area under the ROC curve (x 100) of the reconstruction error separating the
test split's normal samples from as many generated anomalies (a fault's extra inharmonic peak).

Writes benchmarks/pruned_accuracy.json; `make docs` renders it into docs/MODELS.md.

    .venv/bin/python benchmarks/pruned_accuracy.py [--models M,...] [--sparsities S,...]
                                                   [--results F] [--work DIR] [--remeasure]

--models runs only the models named; the others' results are kept from the results file.
DS-CNN is pruned at 80 and 90% a second time with a longer ramp (RAMP_EPOCHS: what
`compile --ramp-epochs 50` does), beside the default one, and channel pruning's side is measured
for it (CHANNEL_FRACTIONS): the narrower DS-CNN left when 50 or 70% of every hidden layer's
filters go, trained from scratch as the dense model is (how much a model with about as many
weights as the 80 and 90% ones can score on this data at all).

--remeasure keeps the results' trained and pruned models and their scores, and compiles and
runs again the .tflite files the last full run saved in the build directory (after a runtime
or planner change: minutes instead of the hour of training).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolchain  # noqa: E402,F401  (environment before TensorFlow, quiet imports)
from benchmarks import model_args  # noqa: E402
from benchmarks.pruned_models import CHANNELS  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "pruned_accuracy.json"
WORK = REPO_ROOT / "build" / "pruned-accuracy"
MODELS = ("ds_cnn", "resnet8", "mobilenet_v1_025", "ad_autoencoder")
SPARSITIES = (0.5, 0.8, 0.9)
SEED = 0
N_TRAIN = 3072  # a fifth of it held out to stop training and fine-tuning
N_TEST = 1024
NOISE = {"kws": 2.0, "images32": 0.3}  # the zoo's: 0.4 and 0.05 (dense models at 100%)
MAX_EPOCHS = 60  # dense training stops earlier once the validation loss stops improving:
PATIENCE = 8  # this many epochs without a lower one,
START_EPOCH = 15  # counted from this epoch on (MobileNet's VWW task starts learning near 10-15)
# beside pruning every layer: the DepthwiseConv2D kernels left dense (their 9 weights per
# channel are the ones pruning hurts most), every other layer at these sparsities
DEPTHWISE_DENSE = "depthwise dense"
DEPTHWISE_DENSE_SPARSITIES = (0.8, 0.9)
# beside the default ramp, a longer one (compile --ramp-epochs N) for the models that miss the
# goal with it, at these sparsities of every layer: DS-CNN (its few weights per depthwise-
# separable block lose most when pruned fast)
RAMP_EPOCHS = {"ds_cnn": 50}
LONG_RAMP_SPARSITIES = (0.8, 0.9)
# and channel pruning's side of the comparison for the same models: the narrower architecture
# left when these fractions of every hidden layer's filters go (make pruned-models' "channels"
# rows), trained from scratch as the dense model is; its weights all stay, in dense kernels
CHANNEL_FRACTIONS = {"ds_cnn": (0.5, 0.7)}
CHANNEL_MAX_EPOCHS = 200  # a narrow model learns more slowly: at MAX_EPOCHS it still improved
GOAL_POINTS = 1.0  # issue 19: pruned int8 within 1 point of the dense float model
VERSION = 1
# a row's figures from compiling and running its pruned model (benchmarks.pruned_models.measure)
SPEED_KEYS = ("instructions", "mismatches", "weight_bytes", "nonzero_weights", "weight_params", "formats")


# --- data and scores -----------------------------------------------------------------------------

def data(name: str):
    """(entry, training Dataset (test split = the real test split), x_val, y_val, anomalies or
    None): the zoo's data for `name` at this benchmark's sizes, the validation split the last
    fifth of the training samples (generated i.i.d., so any fifth is a fair one)."""
    from toolchain.data.datasets import Dataset
    from toolchain.models.zoo import ZOO, machine_anomalies, zoo_dataset

    entry = ZOO[name]
    ds = zoo_dataset(entry.data, SEED, n_train=N_TRAIN, n_test=N_TEST,
                     noise=NOISE.get(entry.data), disjoint=True)
    cut = len(ds.x_train) * 4 // 5
    fit = Dataset(ds.name, ds.x_train[:cut], ds.y_train[:cut], ds.x_test, ds.y_test, ds.num_classes)
    anomalies = machine_anomalies(SEED, N_TEST) if entry.data == "machine" else None
    return entry, fit, ds.x_train[cut:], ds.y_train[cut:], anomalies


def auc(normal_scores, anomaly_scores) -> float:
    """Area under the ROC curve of scores ranking anomalies above normals (ties count half)."""
    import numpy as np

    a = np.asarray(anomaly_scores, dtype=np.float64)[:, None]
    n = np.asarray(normal_scores, dtype=np.float64)[None, :]
    return float(np.mean((a > n) + 0.5 * (a == n)))


def score_outputs(outputs, ds, anomalies, out_anomalies=None) -> float:
    """Points: top-1 accuracy (%) of classifier outputs on ds.y_test, or for an autoencoder the
    ROC AUC (x 100) of the per-sample reconstruction error, test split against anomalies."""
    import numpy as np

    from toolchain.verify.reference import accuracy_from_outputs

    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if anomalies is None:
        return 100.0 * accuracy_from_outputs(out, ds.y_test)
    err_n = np.mean((out - ds.x_test.reshape(len(out), -1)) ** 2, axis=1)
    bad = np.asarray(out_anomalies, dtype=np.float64).reshape(len(anomalies), -1)
    err_a = np.mean((bad - anomalies.reshape(len(anomalies), -1)) ** 2, axis=1)
    return 100.0 * auc(err_n, err_a)


def float_score(model, ds, anomalies) -> float:
    out = model.predict(ds.x_test, batch_size=256, verbose=0)
    bad = None if anomalies is None else model.predict(anomalies, batch_size=256, verbose=0)
    return score_outputs(out, ds, anomalies, bad)


def int8_score(tflite: bytes, ds, anomalies) -> float:
    """The int8 model's score through TFLM's reference kernels, outputs dequantized."""
    import numpy as np

    from toolchain.ir.tflite_import import load_tflite
    from toolchain.pipeline import input_samples, reference

    graph = load_tflite(tflite, "model")
    y = graph.tensors[graph.outputs[0]]

    def run(x):
        raw = reference(tflite, input_samples(graph, x)).astype(np.float64)
        return (raw - int(y.zero_point[0])) * float(y.scale[0])

    bad = None if anomalies is None else run(anomalies)
    return score_outputs(run(ds.x_test), ds, anomalies, bad)


# --- training and pruning ------------------------------------------------------------------------

def train_dense(name: str, entry, ds, x_val, y_val, log=print, width: float = 1.0,
                max_epochs: int = MAX_EPOCHS):
    """The zoo model (at `width`: that fraction of every hidden layer's filters) trained until
    the validation loss has not improved for PATIENCE epochs from START_EPOCH on (at most
    `max_epochs`), the best epoch's weights kept; returns (model, epochs run, best)."""
    import tf_keras as keras

    from toolchain.models.train import compile_model
    from toolchain.models.zoo import build_zoo_model

    model = build_zoo_model(name, ds, SEED, width=width)
    keras.utils.set_random_seed(SEED)
    compile_model(model, loss=entry.loss)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE,
                                         restore_best_weights=True, start_from_epoch=START_EPOCH)
    h = model.fit(ds.x_train, ds.y_train, epochs=max_epochs, batch_size=32, shuffle=True,
                  validation_data=(x_val, y_val), callbacks=[stop], verbose=0)
    losses = h.history["val_loss"]
    best = int(min(range(len(losses)), key=losses.__getitem__)) + 1
    log(f"  trained {len(losses)} epochs, kept epoch {best} (validation loss {losses[best - 1]:.4f})")
    return model, len(losses), best


def model_result(name: str, sparsities, work: Path, log=print) -> dict:
    from toolchain.prune.magnitude import (PRUNED_LAYER_TYPES, layer_sparsity, prune_recovering,
                                           recovery_budget)
    from toolchain.quantize.convert import to_int8_tflite

    t0 = time.time()
    entry, ds, x_val, y_val, anomalies = data(name)
    metric = "accuracy" if anomalies is None else "roc_auc"
    log(f"{name}: {len(ds.x_train)} training, {len(y_val)} validation, {len(ds.x_test)} test samples"
        + ("" if anomalies is None else f" and {len(anomalies)} anomalies"))
    model, epochs, best = train_dense(name, entry, ds, x_val, y_val, log)
    dense_tflite = to_int8_tflite(model, ds.x_train)
    dense = {"float": float_score(model, ds, anomalies), "int8": int8_score(dense_tflite, ds, anomalies),
             "epochs_run": epochs, "best_epoch": best}
    log(f"  dense: float {dense['float']:.2f}, int8 {dense['int8']:.2f} points")
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    depthwise = [layer.name for layer in model.layers if type(layer).__name__ == "DepthwiseConv2D"]
    runs = [(s, "unstructured", None) for s in sparsities]
    if depthwise:
        runs += [(s, DEPTHWISE_DENSE, None) for s in DEPTHWISE_DENSE_SPARSITIES if s in sparsities]
    if name in RAMP_EPOCHS:
        runs += [(s, "unstructured", RAMP_EPOCHS[name]) for s in LONG_RAMP_SPARSITIES if s in sparsities]
    for s, pattern, ramp in runs:
        t1 = time.time()
        target = s if pattern == "unstructured" else {
            layer.name: (0.0 if layer.name in depthwise else s) for layer in model.layers
            if type(layer).__name__ in PRUNED_LAYER_TYPES}
        budget = None if ramp is None else recovery_budget(s, ramp)  # as compile --ramp-epochs
        pruned, tuned = prune_recovering(model, ds, target, x_val, y_val, seed=SEED, loss=entry.loss,
                                         budget=budget)
        per_layer = layer_sparsity(pruned)
        row = {"sparsity": s, "pattern": pattern, "ramp_option": ramp, "ramp_epochs": tuned.ramp_epochs,
               "epochs_run": tuned.epochs_run, "best_epoch": tuned.best_epoch,
               "layer_sparsity_min": round(min(per_layer.values()), 4),
               "layer_sparsity_max": round(max(per_layer.values()), 4)}
        _score_and_measure(name, row, pruned, ds, anomalies, dense, work, t1)
        log(f"  {s:.0%} {pattern}{'' if ramp is None else f', ramp {ramp}'}: float {row['float']:.2f}, "
            f"int8 {row['int8']:.2f} points "
            f"({row['drop_points']:+.2f} below dense float), {tuned.epochs_run} epochs; "
            f"{row['instructions']:,} instructions, {row['mismatches']} mismatching bytes")
        rows.append(row)
    for fraction in CHANNEL_FRACTIONS.get(name, ()):
        t1 = time.time()
        log(f"  channels: {fraction:.0%} of the filters removed, the narrower model trained")
        narrow, epochs, best = train_dense(name, entry, ds, x_val, y_val, log, width=1.0 - fraction,
                                           max_epochs=CHANNEL_MAX_EPOCHS)
        row = {"sparsity": fraction, "pattern": CHANNELS, "ramp_option": None,
               "epochs_run": epochs, "best_epoch": best}
        _score_and_measure(name, row, narrow, ds, anomalies, dense, work, t1)
        log(f"  channels {fraction:.0%}: float {row['float']:.2f}, int8 {row['int8']:.2f} points "
            f"({row['drop_points']:+.2f} below dense float), {epochs} epochs; "
            f"{row['instructions']:,} instructions, {row['nonzero_weights']:,} weights, "
            f"{row['mismatches']} mismatching bytes")
        rows.append(row)
    return {"description": entry.description, "metric": metric, "data": entry.data,
            "noise": NOISE.get(entry.data), "dense": dense, "rows": rows,
            "seconds": round(time.time() - t0, 1)}


def _score_and_measure(name: str, row: dict, model, ds, anomalies, dense: dict, work: Path,
                       t1: float) -> None:
    """Adds to `row` the model's scores (float; int8, its int8 model saved under `work`), the
    int8 score's loss against the dense float model, SPEED_KEYS from compiling and running the
    int8 model, and the seconds since t1."""
    from toolchain.quantize.convert import to_int8_tflite

    tflite = to_int8_tflite(model, ds.x_train)
    path = work / f"{name}-s{row['sparsity']:g}{_tag(row)}.tflite"
    path.write_bytes(tflite)
    row.update({"float": float_score(model, ds, anomalies), "int8": int8_score(tflite, ds, anomalies)})
    row["drop_points"] = round(dense["float"] - row["int8"], 3)
    speed = _measure(name, row, path, work)
    row.update({k: speed[k] for k in SPEED_KEYS})
    row["seconds"] = round(time.time() - t1, 1)


def model_path(work: Path, name: str, row: dict) -> Path:
    """Where model_result saved a row's pruned int8 model."""
    return work / name / f"{name}-s{row['sparsity']:g}{_tag(row)}.tflite"


def _tag(row: dict) -> str:
    """A row's build name suffix: its pattern and its --ramp-epochs, when not the defaults."""
    ramp = row.get("ramp_option")
    return ({"unstructured": "", CHANNELS: "-channels"}.get(row["pattern"], "-dwdense")
            + ("" if ramp is None else f"-ramp{ramp}"))


def _measure(name: str, row: dict, path: Path, work: Path) -> dict:
    """benchmarks.pruned_models.measure for a row's saved model (a channels row's weights
    counted against the full-width model's)."""
    from benchmarks.pruned_models import measure

    if row["pattern"] == CHANNELS:
        return measure(name, row["sparsity"], path, work, pattern=CHANNELS)
    return measure(name + _tag(row), row["sparsity"], path, work)


def remeasure(results: Path, work: Path, log=print) -> dict:
    """`results` with every row's instructions and the rest of SPEED_KEYS measured again on
    the .tflite files model_result saved under `work`; scores and fine-tune figures kept."""
    from toolchain.errors import ToolchainError

    if not results.is_file():
        raise ToolchainError(f"--remeasure: {results} does not exist; run without --remeasure first")
    result = json.loads(results.read_text())
    t0 = time.time()
    for name, entry in result["models"].items():
        for row in entry["rows"]:
            path = model_path(work, name, row)
            if not path.is_file():
                raise ToolchainError(f"--remeasure: {path} is missing (the pruned model of {name} at "
                                     f"{row['sparsity']:.0%} {row['pattern']}); run without --remeasure")
            speed = _measure(name, row, path, work / name)
            log(f"{name} {row['sparsity']:.0%} {row['pattern']}: {row['instructions']:,} -> "
                f"{speed['instructions']:,} instructions, {speed['mismatches']} mismatching bytes")
            row.update({k: speed[k] for k in SPEED_KEYS})
    result["remeasured_seconds"] = round(time.time() - t0, 1)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/pruned_accuracy.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated (default {','.join(MODELS)})")
    p.add_argument("--sparsities", default=",".join(f"{s:g}" for s in SPARSITIES),
                   help="comma-separated fractions (default 0.5,0.8,0.9)")
    p.add_argument("--results", type=Path, default=RESULTS, help="results JSON to write")
    p.add_argument("--work", type=Path, default=WORK, help="build directory")
    p.add_argument("--remeasure", action="store_true",
                   help="measure the saved pruned models again, keeping their scores")
    args = p.parse_args(argv)
    if args.remeasure:
        from toolchain.errors import ToolchainError

        t0 = time.time()
        try:
            result = remeasure(args.results, args.work, log=lambda line: print(line, flush=True))
        except ToolchainError as exc:
            print(f"pruned_accuracy: {exc}", file=sys.stderr)
            return 2
        return _write(args.results, result, t0)
    if (parsed := model_args.parse("pruned_accuracy", args, list(MODELS))) is None:
        return 2
    models, sparsities = parsed
    t0 = time.time()
    result = {"version": VERSION, "board": "mps2-an386", "seed": SEED, "n_train": N_TRAIN,
              "n_test": N_TEST, "validation_fraction": 0.2, "goal_points": GOAL_POINTS,
              "models": {}}
    for i, m in enumerate(models, start=1):
        print(f"[{i}/{len(models)}] {m}", flush=True)
        result["models"][m] = model_result(m, sparsities, args.work / m,
                                           log=lambda line: print(line, flush=True))
    result["seconds"] = round(time.time() - t0, 1)
    kept = keep_others(result, args.results)
    if kept:
        print(f"kept the results of {', '.join(kept)} from {args.results} (not run this time)")
    return _write(args.results, result, t0)


def keep_others(result: dict, path: Path) -> list[str]:
    """With --models naming some of the models: the others' entries from the results file
    already at `path` (same settings), in MODELS order; returns their names."""
    if not path.is_file():
        return []
    old = json.loads(path.read_text())
    same = ("version", "board", "seed", "n_train", "n_test", "validation_fraction", "goal_points")
    if any(old.get(k) != result[k] for k in same):
        return []
    kept = [m for m in old.get("models", {}) if m not in result["models"]]
    merged = {m: result["models"].get(m) or old["models"][m] for m in MODELS
              if m in result["models"] or m in kept}
    result["models"] = merged
    if kept:
        result["seconds"] = round(result["seconds"] + sum(old["models"][m].get("seconds", 0.0)
                                                          for m in kept), 1)
    return kept


def _write(path: Path, result: dict, t0: float) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(path)
    bad = sum(r["mismatches"] for m in result["models"].values() for r in m["rows"])
    print(f"wrote {path} in {time.time() - t0:.0f} s ({bad} mismatching bytes)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
