"""The `edgesparse prune` and `edgesparse sweep` jobs: load, prune or sweep, write files whole.

`prune_file` writes PRUNED.keras and PRUNED.json side by side, both or neither: each is written
to a temporary name in the same directory and renamed into place only when both are complete.
`sweep_file` writes its directory through fileio.atomic_output_dir.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from toolchain.errors import DatasetError, ToolchainError
from toolchain.prune.config import PruneConfig
from toolchain.prune.logs import log


def load_model_and_data(model_path: Path, data: str | None, seed: int = 0):
    from toolchain.data.datasets import check_matches, default_data, load_dataset
    from toolchain.models.train import load_keras_model

    if Path(model_path).suffix.lower() == ".tflite":
        raise ToolchainError(f"{model_path}: a .tflite model is already quantized; pruning needs the "
                             "Keras model (.keras, .h5 or a SavedModel directory)")
    model = load_keras_model(model_path)
    shape = tuple(model.input_shape[1:])
    ds = load_dataset(data or default_data(shape, model_path), seed=seed)
    check_matches(ds, shape)
    if not ds.labeled:
        raise DatasetError(f"dataset {ds.name!r} has no labels ('y'); pruning fine-tunes and measures "
                           "accuracy, so it needs them")
    return model, ds


def run_config(model, ds, config: PruneConfig, sweep_dir: Path | None = None, executor=None):
    """prune_model, or auto_prune when config.auto_sparsity (writing its sweep to sweep_dir; its
    points run on `executor`, toolchain.executor, default this process)."""
    if config.auto_sparsity:
        from toolchain.prune.sweep import auto_prune

        if sweep_dir is not None:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        result, _ = auto_prune(model, ds, config, sweep_dir, executor=executor)
        return result
    from toolchain.prune.methods import prune_model

    return prune_model(model, ds, config)


def prune_file(model_path: Path, out: Path, config: PruneConfig, data: str | None = None,
               executor=None) -> dict:
    """Prune MODEL as `config` says; write OUT (.keras) and OUT with .json; return the report."""
    out = Path(out)
    if out.suffix != ".keras":
        raise ToolchainError(f"--out {out}: the pruned model is written as a .keras file; name it "
                             "e.g. pruned.keras")
    model, ds = load_model_and_data(model_path, data, config.seed)
    result = run_config(model, ds, config, executor=executor)
    report = {"model": str(model_path), "data": ds.name, **result.report()}
    json_path = out.with_suffix(".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_model = out.with_name(f".{out.stem}.tmp-{os.getpid()}.keras")
    tmp_json = json_path.with_name(f".{json_path.name}.tmp-{os.getpid()}")
    try:
        result.model.save(tmp_model)
        tmp_json.write_text(json.dumps(report, indent=2) + "\n")
        tmp_model.replace(out)
        tmp_json.replace(json_path)
    except BaseException:
        for p in (tmp_model, tmp_json):
            p.unlink(missing_ok=True)
        raise
    log(f"wrote {out} and {json_path}")
    return report


def sweep_file(model_path: Path, out: Path, config: PruneConfig, data: str | None = None,
               sparsities=None, epochs: int = 0, executor=None) -> dict:
    """Sensitivity sweep of MODEL into directory OUT: sweep.csv, sweep.json and PNG plots; the
    points run on `executor` (toolchain.executor; default this process)."""
    from toolchain.fileio import atomic_output_dir, write_json_atomic
    from toolchain.prune.sweep import SWEEP_SPARSITIES, check_sparsities, sweep, write_outputs

    sparsities = check_sparsities(sparsities or SWEEP_SPARSITIES)
    model, ds = load_model_and_data(model_path, data, config.seed)
    log(f"sweeping {model.name}: each prunable layer alone and the whole model, weight and unit/filter "
        f"pruning, at {', '.join(f'{s:g}' for s in sparsities)} "
        f"({'no fine-tuning' if epochs == 0 else f'{epochs} fine-tune epoch(s)'} per point)"
        + (f" on {executor.describe()}" if executor is not None else ""))
    with atomic_output_dir(Path(out)) as tmp:
        result = sweep(model, ds, sparsities, config, epochs=epochs, progress=config.verbose != 0,
                       executor=executor)
        write_outputs(result, tmp, f"{model.name} on {ds.name}: accuracy vs sparsity")
        summary = {"model": str(model_path), "data": ds.name, "baseline_accuracy": result.baseline,
                   "sparsities": list(sparsities), "finetune_epochs": epochs,
                   "points": len(result.points) - 1, "whole_model_layers": result.whole}
        write_json_atomic(tmp / "sweep.json", summary)
    log(f"wrote {out}/sweep.csv and plots ({summary['points']} points)")
    return summary
