"""`edgesparse zoo`: every zoo model (toolchain/models/zoo.py) trained briefly, converted to
int8 twice (as trained: "dense"; pruned to 80 %: "pruned"), each compiled for mps2-an386, run
on the host and in QEMU and compared byte for byte with the TFLM reference; TFLM's own arena
use for the same .tflite is measured next to ours.

DIR/zoo.json holds one record per model, DIR/ZOO.md the same as a table and DIR/zoo.png a
plot; DIR/MODEL/{dense,pruned} are ordinary compile output directories (report.json, sources,
firmware), so `edgesparse run` works on them too.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from toolchain.errors import ToolchainError
from toolchain.pipeline import (CompileOptions, atomic_output_dir, compile_model, log, run_host,
                                run_qemu_target, write_json_atomic)

BOARD = "mps2-an386"
QEMU_SAMPLES = 4  # instruction counts are per inference and deterministic; 4 samples verify
# The small board the issue asks MobileNetV1 to fit once pruned: 2 MB flash, 320 KB RAM.
FIT_FLASH = 2 * 1024 * 1024
FIT_RAM = 320 * 1024


def run_zoo(out: Path, models: list[str] | None = None, sparsity: float = 0.8, seed: int = 0,
            qemu: bool | str = True, train_epochs: int | None = None,
            prune_epochs: int | None = None, docs: Path | None = None, executor=None) -> dict:
    """Build, train, prune, convert, compile, run and verify the zoo models into `out`
    (atomically: on failure `out` is left as it was). qemu: True for every model, "small"
    for the small ones only, False for none. train_epochs / prune_epochs override each
    model's own. Everything is written under `out`, unless `docs` names a file: then the
    ZOO.md table is also written there and zoo.png beside it (`make zoo` passes docs/ZOO.md).
    Each model is a unit of `executor` (toolchain.executor; default this process) that writes
    its directory under `out`'s temporary twin (on a cluster, `out` must be on a filesystem
    every node shares); units are not cached, as their files are part of the result.
    Returns zoo.json's content."""
    from toolchain.models.zoo import ZOO, zoo_names

    names = zoo_names(",".join(models) if models else None)
    if not 0.0 < sparsity < 1.0:
        raise ToolchainError(f"--sparsity {sparsity}: the zoo compares a pruned model with the "
                             "dense one; pass e.g. 0.8")
    t0 = time.time()
    result = {"board": BOARD, "sparsity": sparsity, "seed": seed, "models": {}}
    from toolchain.executor import Executor, Unit

    executor = executor or Executor()
    with atomic_output_dir(out) as tmp:
        if executor.workers == 1 and executor.cluster is None:
            for i, name in enumerate(names, start=1):
                log(f"=== zoo [{i}/{len(names)}] {name}: {ZOO[name].description} ===")
                on_qemu = qemu is True or (qemu == "small" and ZOO[name].small)
                try:
                    result["models"][name] = zoo_model(name, tmp / name, sparsity, seed, on_qemu,
                                                       train_epochs, prune_epochs)
                except ToolchainError as e:
                    raise type(e)(f"zoo model {name}: {e}") from None
        else:
            log(f"zoo: {len(names)} models on {executor.describe()}")
            units = [Unit(name, (name, qemu is True or (qemu == "small" and ZOO[name].small)))
                     for name in names]
            shared = {"dir": str(Path(tmp).resolve()), "sparsity": sparsity, "seed": seed,
                      "train_epochs": train_epochs, "prune_epochs": prune_epochs}
            outcome = executor.run(zoo_unit, units, shared, desc="zoo")
            outcome.raise_failures("zoo models")
            result["models"] = outcome.results
        result["seconds"] = round(time.time() - t0, 1)
        write_json_atomic(tmp / "zoo.json", result)
        table = zoo_markdown(result)
        (tmp / "ZOO.md").write_text(table)
        zoo_figure(result, tmp / "zoo.png")
    if docs is not None:
        write_docs(table, out / "zoo.png", Path(docs))
    print(zoo_text_table(result))
    print(arena_summary(result))
    log(f"wrote {out}/zoo.json, {out}/ZOO.md and {out}/zoo.png")
    return result


def zoo_unit(shared: dict, name: str, on_qemu: bool) -> dict:
    """One zoo model as a unit of toolchain.executor (see run_zoo)."""
    return zoo_model(name, Path(shared["dir"]) / name, shared["sparsity"], shared["seed"],
                     on_qemu, shared["train_epochs"], shared["prune_epochs"])


def write_docs(table: str, figure: Path, docs: Path) -> None:
    """The ZOO.md table at `docs`, and its figure beside it as zoo.png (each replaced whole)."""
    import shutil

    docs.parent.mkdir(parents=True, exist_ok=True)
    for src_text, dest in ((table, docs), (None, docs.parent / "zoo.png")):
        tmp = dest.with_name(dest.name + ".tmp")
        if src_text is None:
            shutil.copyfile(figure, tmp)
        else:
            tmp.write_text(src_text)
        tmp.replace(dest)
    log(f"wrote {docs} and {docs.parent / 'zoo.png'}")


def train_zoo_model(name: str, sparsity: float, seed: int, train_epochs: int | None,
                    prune_epochs: int | None):
    """(entry, dataset, float model, dense int8 .tflite, pruned int8 .tflite)."""
    from toolchain.models.train import compile_model as compile_keras
    from toolchain.models.train import progress_verbosity
    from toolchain.models.zoo import ZOO, build_zoo_model, zoo_dataset
    from toolchain.prune.magnitude import prune_gradual
    from toolchain.quantize.convert import to_int8_tflite

    import tf_keras as keras

    entry = ZOO[name]
    ds = zoo_dataset(entry.data, seed)
    model = build_zoo_model(name, ds, seed)
    epochs = entry.train_epochs if train_epochs is None else train_epochs
    log(f"training {name} ({model.count_params():,} parameters) for {epochs} epochs on "
        f"{len(ds.x_train)} generated samples ({entry.loss})")
    keras.utils.set_random_seed(seed)
    compile_keras(model, loss=entry.loss)
    if epochs:
        model.fit(ds.x_train, ds.y_train, epochs=epochs, batch_size=32, shuffle=True,
                  verbose=progress_verbosity())
    log("converting the trained model to int8 (dense)")
    dense = to_int8_tflite(model, ds.x_train)
    p_epochs = entry.prune_epochs if prune_epochs is None else prune_epochs
    log(f"pruning to {sparsity:.0%} while fine-tuning for {p_epochs} epochs")
    pruned_model = prune_gradual(model, ds, sparsity, epochs=max(1, p_epochs), seed=seed,
                                 loss=entry.loss)
    log("converting the pruned model to int8")
    pruned = to_int8_tflite(pruned_model, ds.x_train)
    return entry, ds, model, dense, pruned


def zoo_model(name: str, out: Path, sparsity: float, seed: int, qemu: bool,
              train_epochs: int | None, prune_epochs: int | None) -> dict:
    from toolchain.verify.tflm_arena import tflm_arena

    t0 = time.time()
    entry, ds, model, dense, pruned = train_zoo_model(name, sparsity, seed, train_epochs,
                                                      prune_epochs)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data.npz"
    labels = {"y": ds.y_test} if ds.num_classes else {}
    np.savez(data, x=ds.x_test, **labels)
    reports = {}
    for variant, tflite in (("dense", dense), ("pruned", pruned)):
        path = out / f"{variant}.tflite"
        path.write_bytes(tflite)
        log(f"compiling {name} {variant} for {BOARD}")
        compile_model(path, out / variant, CompileOptions(board=BOARD, data=str(data), seed=seed,
                                                          name=f"{name}_{variant}"))
        reports[variant] = run_host(out / variant)
        if qemu:
            reports[variant] = run_qemu_target(out / variant, samples=QEMU_SAMPLES,
                                               compare_dense=variant == "pruned")
    tflm = tflm_arena(pruned)
    rec = zoo_record(entry, model, reports, tflm, qemu, len(ds.x_test[0].ravel()))
    rec["seconds"] = round(time.time() - t0, 1)
    return rec


def zoo_record(entry, model, reports: dict, tflm: dict, qemu: bool, input_bytes: int) -> dict:
    d, p = reports["dense"], reports["pruned"]
    mism = {f"{v}_{k}": reports[v]["mismatches"][k]
            for v in ("dense", "pruned")
            for k in ("host_vs_reference", "qemu_vs_reference", "qemu_dense_vs_reference")
            if reports[v]["mismatches"].get(k) is not None}
    rec = {
        "description": entry.description,
        "params": int(model.count_params()),
        "weight_params": int(p["weights"]["params"]),
        "nonzero_weights_pruned": int(p["weights"]["nonzero"]),
        "weight_bytes": int(p["weights"]["bytes"]),
        "weight_bytes_dense": int(d["weights"]["bytes"]),
        "weight_bytes_float32": int(d["weights"]["bytes_float32"]),
        "arena_bytes": int(p["arena_bytes"]),
        "arena_bytes_dense": int(d["arena_bytes"]),
        "arena_bytes_tflm": int(tflm["arena_bytes"]),
        # TFLM's head: its planned tensors and kernel scratch, the part our arena also holds
        # (its tail is its per-tensor and per-op structs, which our runtime keeps in flash)
        "arena_bytes_tflm_head": tflm.get("head_bytes"),
        "arena_vs_tflm": round(p["arena_bytes"] / tflm["arena_bytes"], 3),
        "instructions_pruned": p.get("instructions_per_inference"),
        "instructions_dense": d.get("instructions_per_inference"),
        # the pruned model's weights run with the dense kernels: the format choice's own gain
        "instructions_pruned_all_dense_formats": p.get("dense_instructions_per_inference"),
        "speedup": None,
        "mismatches": int(sum(mism.values())),
        "mismatches_detail": mism,
        "samples": {"host": int(p["samples"]["host"]), "qemu": int(p["samples"]["qemu"])},
        "formats": sorted({layer["format"] for layer in p["layers"] if layer["params"]}),
        "ops": sorted({layer["op"] for layer in p["layers"]}),
        "tflm": tflm,
    }
    if rec["instructions_pruned"] and rec["instructions_dense"]:
        rec["speedup"] = round(rec["instructions_dense"] / rec["instructions_pruned"], 3)
    if qemu:
        fw = p["firmware"]
        flash = fw["text"] + fw["rodata"] + fw["data"] - QEMU_SAMPLES * input_bytes
        ram = fw["data"] + fw["bss"]
        rec["fit_2mb_flash_320kb_ram"] = {
            "flash_bytes": int(flash), "ram_bytes": int(ram), "flash_limit": FIT_FLASH,
            "ram_limit": FIT_RAM, "fits": bool(flash <= FIT_FLASH and ram <= FIT_RAM),
            "note": "the pruned model's QEMU firmware (runtime, blob, arena, stack reservation) "
                    "less its embedded test inputs"}
    return rec


# --- tables and plot ---------------------------------------------------------------------

def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _rows(result: dict) -> list[tuple]:
    rows = []
    for name, r in result["models"].items():
        rows.append((name, _n(r["params"]), f"{_n(r['weight_bytes_dense'])} → {_n(r['weight_bytes'])}",
                     _n(r["arena_bytes"]), _n(r["arena_bytes_tflm"]),
                     f"{100 * (1 - r['arena_vs_tflm']):.0f}%", _n(r.get("arena_bytes_tflm_head")),
                     _n(r["instructions_dense"]), _n(r["instructions_pruned"]),
                     "-" if r["speedup"] is None else f"{r['speedup']:.2f}×", _n(r["mismatches"])))
    return rows


HEADER = ("model", "params", "weight bytes dense → pruned", "arena bytes", "TFLM arena bytes",
          "arena below TFLM", "TFLM tensors (head)", "instructions dense", "instructions pruned",
          "speed-up", "mismatches")


def zoo_markdown(result: dict) -> str:
    lines = [
        "# Model zoo",
        "",
        f"Generated by `edgesparse zoo` (board {result['board']}, QEMU, seed {result['seed']}; "
        f"pruned = {result['sparsity']:.0%} of every Dense, Conv and DepthwiseConv weight set to "
        "zero by gradual magnitude pruning: tfmot's for Dense and Conv, edgesparse's masks on the "
        "same schedule for DepthwiseConv, which tfmot does not prune). Instructions are QEMU instruction counts per inference on the "
        "Cortex-M4 (not cycles); \"dense\" is the model as trained, compiled dense; weight bytes "
        "are the whole model blob (weights, bias and requantization tables, records); "
        "mismatches are output bytes differing from TFLM's reference kernels over every host "
        "and QEMU run of both builds. TFLM arena bytes are what `tflite_micro`'s recording "
        "allocator reports for the same pruned int8 .tflite (64-bit host build): its head holds the "
        "planned tensors and kernel scratch buffers, its tail TFLM's own per-tensor and per-op "
        "structs, which the edgesparse runtime keeps in flash (model records) instead.",
        "",
        "![instructions dense and pruned, arena bytes next to TFLM's](zoo.png)",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(HEADER))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result)]
    lines += ["", arena_summary(result)]
    fits = {n: r["fit_2mb_flash_320kb_ram"] for n, r in result["models"].items()
            if "fit_2mb_flash_320kb_ram" in r}
    if fits:
        lines += ["", "Fit on a 2 MB flash / 320 KB RAM board (pruned firmware, less test inputs):", ""]
        for n, f in fits.items():
            lines.append(f"- {n}: flash {f['flash_bytes']:,} of {f['flash_limit']:,} bytes, RAM "
                         f"{f['ram_bytes']:,} of {f['ram_limit']:,} bytes: "
                         f"{'fits' if f['fits'] else 'does NOT fit'}")
    lines += ["", "Descriptions:", ""]
    lines += [f"- **{n}**: {r['description']}; ops {', '.join(r['ops'])}; pruned formats "
              f"{', '.join(r['formats'])}" for n, r in result["models"].items()]
    return "\n".join(lines) + "\n"


def arena_summary(result: dict) -> str:
    """How far below TFLM the arenas are, against its whole arena and against its head."""
    recs = result["models"].values()
    below = [100 * (1 - r["arena_vs_tflm"]) for r in recs]
    head = [r["arena_bytes"] - r["arena_bytes_tflm_head"] for r in recs
            if r.get("arena_bytes_tflm_head") is not None]
    text = (f"Arena: {min(below):.0f}% to {max(below):.0f}% below TFLM's (median "
            f"{float(np.median(below)):.0f}%).")
    if head:
        text += (f" Against TFLM's head alone (tensors and scratch, without its structs): equal "
                 f"on {sum(d == 0 for d in head)} models, below on {sum(d < 0 for d in head)} "
                 f"(by up to {max(0, -min(head)):,} bytes), above on {sum(d > 0 for d in head)} "
                 f"(by up to {max(0, max(head)):,} bytes).")
    return text


def zoo_text_table(result: dict) -> str:
    rows = [HEADER] + _rows(result)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))) for r in rows)


def zoo_figure(result: dict, path: Path) -> None:
    """Instructions dense vs pruned, and arena bytes ours vs TFLM's, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["models"])
    recs = [result["models"][n] for n in names]
    y = np.arange(len(names))
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 0.5 * len(names) + 1.6))
    if all(r["instructions_dense"] for r in recs):
        a.barh(y + 0.2, [r["instructions_dense"] for r in recs], 0.4, label="dense")
        a.barh(y - 0.2, [r["instructions_pruned"] for r in recs], 0.4, label="pruned 80%")
        a.set_xscale("log")
        a.set_xlabel("QEMU instructions per inference (log)")
        a.legend()
    else:
        a.text(0.5, 0.5, "no QEMU runs", ha="center", transform=a.transAxes)
    a.set_yticks(y, names)
    b.barh(y + 0.2, [r["arena_bytes_tflm"] for r in recs], 0.4, label="TFLM", color="grey")
    b.barh(y - 0.2, [r["arena_bytes"] for r in recs], 0.4, label="edgesparse", color="tab:green")
    b.set_xscale("log")
    b.set_xlabel("arena bytes (log)")
    b.set_yticks(y, [])
    b.legend()
    a.invert_yaxis()  # the zoo's order, top to bottom
    b.invert_yaxis()
    fig.suptitle(f"edgesparse model zoo on {result['board']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
