"""The `edgesparse` command: argument parsing only; the work is in toolchain.pipeline."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolchain.errors import ToolchainError
from toolchain.executor import add_options as add_executor_options


def _sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1): pass e.g. 0.8 for 80% zeros")
    return value


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None


def _share_bits(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        bits = int(text)
    except ValueError:
        bits = 0
    if not 1 <= bits <= 5:
        raise argparse.ArgumentTypeError(f"{text!r}: codebook bits are 1..5, or auto")
    return bits


def _share_spec(args):
    if args.share_weights is None:
        return None
    from toolchain.quantize.sharing import ShareSpec

    return ShareSpec(bits=args.share_weights, init=args.share_init, epochs=args.share_epochs)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _zoo_names() -> list[str]:
    from toolchain.models.zoo import ZOO

    return list(ZOO)


# Options that switch `compile` from the demo's uniform gradual pruning to toolchain.prune's
# per-layer engine (dest names; --epochs alone does not).
PRUNE_ENGINE_OPTIONS = ("granularity", "method", "schedule", "mode", "config", "layer", "skip",
                        "prune_all", "rounds", "initial_sparsity", "begin_step", "end_step",
                        "frequency", "power", "l1", "threshold", "norm", "logdir", "auto_sparsity")


def _add_prune_options(p: argparse.ArgumentParser, auto: bool = True) -> None:
    g = p.add_argument_group("pruning (per-layer settings; see README 'Pruning')")
    g.add_argument("--granularity", default=None,
                   help="unstructured | block:RxC (e.g. block:1x4, block:4x1) | nm:N:M (e.g. nm:2:4)")
    g.add_argument("--method", default=None, choices=["magnitude", "l1", "units", "filters"],
                   help="magnitude (default) | l1 (L1-regularised training, then |w| < t) | units / "
                        "filters (remove Dense units / conv filters: a smaller dense model)")
    g.add_argument("--schedule", default=None,
                   help="constant | polynomial (default; Zhu & Gupta) | ramp:MODULE:FUNCTION "
                        "(a function of training progress 0..1 returning the fraction of the target)")
    g.add_argument("--mode", default=None, choices=["one-shot", "iterative", "gradual"],
                   help="gradual (default): sparsity rises while fine-tuning; one-shot: prune the "
                        "trained model, then fine-tune; iterative: prune a step, retrain, repeat")
    g.add_argument("--config", type=Path, default=None,
                   help="TOML file with global keys and [layers.NAME] tables (skip, sparsity, method, "
                        "granularity, threshold, norm); its per-layer settings override the command line")
    g.add_argument("--layer", action="append", default=None, metavar="NAME:KEY=VALUE[,...]",
                   help="per-layer setting, repeatable, e.g. --layer fc1:sparsity=0.9,granularity=nm:2:4 "
                        "or --layer conv1:skip")
    g.add_argument("--skip", default=None, metavar="NAMES", help="comma-separated layers to leave dense")
    g.add_argument("--prune-all", action="store_true", default=None,
                   help="also prune the layers spared by default (first conv, last classifier, small layers)")
    g.add_argument("--epochs", type=_count, default=None,
                   help="fine-tune epochs, a fixed count (per round with --mode iterative). Default: "
                        "4 with the per-layer options; without them, compile fine-tunes until "
                        "validation accuracy and loss stop improving")
    g.add_argument("--rounds", type=_count, default=None, help="rounds of --mode iterative (default 3)")
    g.add_argument("--initial-sparsity", type=_fraction, default=None, help="schedule start (default 0)")
    g.add_argument("--begin-step", type=_count, default=None, help="schedule begin step (default 0)")
    g.add_argument("--end-step", type=_count, default=None,
                   help="schedule end step (default: 70%% of the fine-tune steps)")
    g.add_argument("--frequency", type=_count, default=None,
                   help="steps between mask updates (default: about 10 updates)")
    g.add_argument("--power", type=_fraction, default=None, help="polynomial schedule exponent (default 3)")
    g.add_argument("--l1", type=_fraction, default=None,
                   help="L1 penalty for --method l1: l1 * sum|w| per kernel (default 1e-3)")
    g.add_argument("--threshold", type=_fraction, default=None,
                   help="--method l1 prunes |w| < threshold (default: the magnitude reaching --sparsity)")
    g.add_argument("--norm", default=None, choices=["l1", "l2"],
                   help="unit / filter ranking norm (default l2 for units, l1 for filters)")
    g.add_argument("--logdir", type=Path, default=None,
                   help="write TensorBoard summaries (per-layer sparsity, loss) here")
    if auto:
        g.add_argument("--auto-sparsity", action="store_true", default=None,
                       help="pick each layer's sparsity from a sensitivity sweep")
        g.add_argument("--max-accuracy-drop", type=_fraction, default=None, metavar="POINTS",
                       help="with --auto-sparsity: accuracy points a layer may lose (default "
                            "1.0). compile without --sparsity and --auto-sparsity: the smallest "
                            "model within POINTS: each layer's one-shot sensitivity on a "
                            "held-out fifth of the training split picks its sparsity, then "
                            "pruning with recovery, weight sharing (auto bits) and Huffman "
                            "palettes where they pay; if int8 accuracy on the held-out split "
                            "is more than POINTS below float, every layer steps down one sweep "
                            "level and it tries again (at most 3 attempts, the first within "
                            "budget kept); writes the choice as DIR/compress_config.toml "
                            "(for --config)")
        g.add_argument("--sparsities", default=None,
                       help="with --auto-sparsity: sweep levels (default 0.25,0.5,...,0.99)")


def _prune_config(args, require_sparsity: bool):
    """PruneConfig from parsed arguments, or None for `compile` without pruning options."""
    chosen = {k: getattr(args, k, None) for k in PRUNE_ENGINE_OPTIONS}
    if not require_sparsity and all(v is None for v in chosen.values()):
        return None  # before the imports below, which load TensorFlow (seconds)
    from toolchain.prune.config import build_config
    from toolchain.prune.sweep import SWEEP_SPARSITIES, parse_sparsities

    cli = {k: v for k, v in chosen.items() if k not in ("config", "layer", "logdir", "auto_sparsity")}
    cli["sparsity"] = args.sparsity
    cli["epochs"] = args.epochs
    config = build_config(cli, args.layer, args.config, logdir=args.logdir, seed=args.seed,
                          auto_sparsity=bool(args.auto_sparsity),
                          max_accuracy_drop=(1.0 if args.max_accuracy_drop is None
                                             else args.max_accuracy_drop),
                          sweep_sparsities=(parse_sparsities(args.sparsities) if args.sparsities
                                            else SWEEP_SPARSITIES))
    if require_sparsity and args.sparsity is None and not config.auto_sparsity \
            and config.granularity.fixed_sparsity is None and not _config_sets_sparsity(args.config):
        raise ToolchainError("--sparsity S is required (or sparsity = S in the --config file, or "
                             "--auto-sparsity, or an N:M --granularity)")
    return config


def _accuracy_budget(args) -> float | None:
    """The points of compile's --max-accuracy-drop search (--compress max: 1), or None when
    compile prunes as before; contradicting options are refused before anything is written."""
    from toolchain.prune.budget import COMPRESS_MAX_POINTS

    compress, drop = getattr(args, "compress", None), args.max_accuracy_drop
    if compress is None and (drop is None or args.auto_sparsity):
        return None  # --max-accuracy-drop with --auto-sparsity: a layer's limit, as before
    if drop is not None and drop < 0:
        raise ToolchainError(f"--max-accuracy-drop {drop:g}: the budget is accuracy points, >= 0 "
                             "(e.g. 1.0)")
    spelled = "--compress max" if compress else f"--max-accuracy-drop {drop:g}"
    conflicts = []
    if args.sparsity is not None:
        conflicts.append((f"--sparsity {args.sparsity:g}", "it picks each layer's sparsity"))
    if args.share_weights not in (None, "auto"):
        conflicts.append((f"--share-weights {args.share_weights}", "it picks codebook bits per "
                                                                   "layer (auto)"))
    if args.epochs is not None:
        conflicts.append((f"--epochs {args.epochs}", "it fine-tunes until validation accuracy and "
                                                     "loss stop improving"))
    for dest in PRUNE_ENGINE_OPTIONS:
        if getattr(args, dest, None) is not None:
            flag = "--" + dest.replace("_", "-")
            conflicts.append((flag, "it picks per-layer settings itself (use --config without "
                                    f"{spelled} to set them)"))
    if conflicts:
        flag, why = conflicts[0]
        raise ToolchainError(f"{spelled} contradicts {flag}: {why}; leave out one of them")
    if args.model.suffix == ".tflite":
        raise ToolchainError(f"{spelled}: {args.model} is already quantized; give the float Keras "
                             "model (.keras, .h5, SavedModel)")
    return COMPRESS_MAX_POINTS if drop is None else drop


def _config_sets_sparsity(path) -> bool:
    if path is None:
        return False
    from toolchain.prune.config import load_toml

    return "sparsity" in load_toml(path)


def _bytes(text: str) -> int:
    t = text.strip().upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    try:
        value = int(float(t[:-1] if scale > 1 else t) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a byte count (e.g. 65536, 64K, 1M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}': the budget must be positive")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse's default prints the whole usage first); sub-commands
    created by add_subparsers inherit this class."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="edgesparse",
        description="Prune and int8-quantize Keras models, generate sparse C for Cortex-M, "
                    "and verify it bit for bit against TFLite's reference kernels.")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also show TensorFlow's, LiteRT's and TFLM's own log lines and warnings "
                        "(hidden by default)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="train, prune, quantize, generate, build, run and verify the "
                                    "two demo models (digits CNN, digits28 MLP)")
    d.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory (default out/demo)")
    d.add_argument("--models", default=None,
                   help="comma-separated subset of the demo models: digits,digits28")
    d.add_argument("--sparsity", type=_sparsity, default=0.8, help="target sparsity (default 0.8)")
    d.add_argument("--seed", type=int, default=0)

    z = sub.add_parser("zoo", help="the model zoo (MLPerf Tiny DS-CNN, ResNet-8, MobileNetV1 0.25, "
                                   "AD autoencoder, and everyday tiny models): each trained "
                                   "briefly, compiled dense and pruned, run on host and QEMU, "
                                   "verified; writes DIR/zoo.json, DIR/ZOO.md, DIR/zoo.png")
    z.add_argument("--out", type=Path, default=Path("out/zoo"), help="output directory (default out/zoo)")
    z.add_argument("--models", default=None,
                   help="comma-separated subset (default: all): " + ",".join(_zoo_names()))
    z.add_argument("--sparsity", type=_sparsity, default=0.8, help="pruned build's sparsity (default 0.8)")
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--qemu", choices=["all", "small", "none"], default="all",
                   help="which models also run in QEMU (default all)")
    z.add_argument("--train-epochs", type=_count, default=None,
                   help="float training epochs for every model (default: each model's own)")
    z.add_argument("--prune-epochs", type=_count, default=None,
                   help="pruning fine-tune epochs for every model (default: each model's own)")
    z.add_argument("--docs", type=Path, default=None, metavar="FILE",
                   help="also write the table to FILE and the plot beside it as zoo.png "
                        "(default: nothing outside --out; make zoo passes docs/ZOO.md)")
    add_executor_options(z, "zoo models")

    c = sub.add_parser("compile", help="compile a model into DIR (sources, report.json)")
    c.add_argument("model", type=Path, help=".keras, .h5, SavedModel directory, or int8 .tflite")
    c.add_argument("--out", type=Path, required=True, help="output directory")
    c.add_argument("--board", default="mps2-an386",
                   help="board name (boards/NAME.toml) or a .toml file (default mps2-an386)")
    c.add_argument("--layout", choices=["firmware", "library"], default="firmware",
                   help="firmware (default): DIR/firmware, a project that builds with "
                        "arm-none-eabi-gcc alone (make or cmake); library: DIR/library, only the "
                        "model API header, model and runtime sources, for an existing firmware")
    c.add_argument("--sparsity", type=_sparsity, default=None,
                   help="target sparsity for Keras models (default 0.8; 0 skips pruning)")
    c.add_argument("--data", default=None,
                   help="digits | digits28 | FILE.npz (x, optional y); default from the input shape")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--name", default=None,
                   help="model name used in the sources and report (default: the file's stem)")
    c.add_argument("--optimize", choices=["speed", "size", "balanced", "compact"], default=None,
                   help="per-layer weight format goal: speed = fewest instructions, size = fewest "
                        "bytes, balanced = fewest bytes without any layer being slower than dense "
                        "(default), compact = fewest bytes without the model being slower than "
                        "dense (default with --max-accuracy-drop and --compress max)")
    c.add_argument("--code-opt", choices=["mixed", "speed", "size"], default="mixed",
                   help="the firmware's compiler optimization: mixed = kernels for speed (-O3), "
                        "the rest (validation, port, main) for size (-Os) "
                        "(default); speed = all -O3; size = all -Os")
    c.add_argument("--flash-budget", type=_bytes, default=None, metavar="BYTES",
                   help="upper bound on the model blob in flash (e.g. 65536 or 64K); with "
                        "--optimize speed, layers move to smaller formats until it fits")
    c.add_argument("--ram-budget", type=_bytes, default=None, metavar="BYTES",
                   help="upper bound on the arena (activations, scratch) in RAM (e.g. 16K); a "
                        "model whose smallest arena plan exceeds it is refused, naming the "
                        "layer that does not fit and the smallest budget that would")
    c.add_argument("--ramp-epochs", type=_count, default=None, metavar="N",
                   help="epochs of the pruning ramp of the fine-tune that runs until validation "
                        "accuracy stops improving (default: 2 per halving of the kept weights, 5 "
                        "at 80%%; 4 times that in each --max-accuracy-drop / --compress max "
                        "attempt); a longer ramp recovers more on models with few weights per "
                        "layer (DS-CNN: see docs/MODELS.md)")
    c.add_argument("--stream-input", action="store_true",
                   help="read the model's input row by row as the first layers need it, through "
                        "a reader the application registers (es_model_set_input_reader), instead "
                        "of writing it whole into the arena: an int8 image input then never "
                        "takes its full size in RAM")
    c.add_argument("--share-weights", type=_share_bits, default=None, metavar="BITS|auto",
                   help="weight sharing after pruning: a codebook of 2^BITS values per layer "
                        "(BITS 1..5), or auto: per layer the fewest of 2..5 bits that cost at "
                        "most 0.25 points of accuracy; centroids are then fine-tuned")
    c.add_argument("--share-init", choices=["linear", "density", "forgy", "kmeans++"],
                   default="linear", help="codebook initialisation (default linear)")
    c.add_argument("--share-epochs", type=_count, default=5,
                   help="centroid fine-tuning epochs (default 5)")
    c.add_argument("--huffman", action="store_true",
                   help="also offer Huffman-coded formats: palettes (with --share-weights) and csr8 "
                        "with Huffman-coded deltas and int8 values (any pruned layer; decoded at init)")
    c.add_argument("--huffman-decode", choices=["init", "stream"], default="init",
                   help="decode Huffman streams once at init into the arena (default; fast, "
                        "RAM = decoded tables) or row by row during inference (slower, RAM = "
                        "580 bytes of decode tables and one row per layer)")
    c.add_argument("--compress", choices=["max"], default=None,
                   help="max: the Deep Compression pipeline within a 1-point budget, the same as "
                        "--max-accuracy-drop 1.0 --share-weights auto --huffman (see "
                        "--max-accuracy-drop; it sets the budget if given too)")
    _add_prune_options(c)
    add_executor_options(c, "--auto-sparsity sweep points")

    from toolchain.inspect_model import UNSUPPORTED_EXIT

    i = sub.add_parser("inspect", help="before compiling: per-layer table (op, shapes, params, MACs, "
                                       "supported or why not, weight formats, estimated "
                                       "instructions) and model summary (MACs, weight bytes, "
                                       f"estimated arena); exit 0 if every op is supported, "
                                       f"{UNSUPPORTED_EXIT} if not, 2 on errors",
                       description="Exit status: 0 when the runtime supports every op; "
                                   f"{UNSUPPORTED_EXIT} when some op or the model is not supported "
                                   "(the table is still printed, with the reasons); 2 when the "
                                   "model cannot be read.")
    i.add_argument("model", type=Path, help="int8 .tflite, or .keras, .h5, SavedModel directory "
                                            "(converted to int8 first, without pruning)")
    i.add_argument("--board", default="mps2-an386",
                   help="board name or .toml, for its kernels' cost model (default mps2-an386)")
    i.add_argument("--json", action="store_true", help="print the inspection as JSON")
    i.add_argument("--html", type=Path, default=None, metavar="FILE",
                   help="also write the inspection as a self-contained HTML page to FILE (for a "
                        "model edgesparse refuses: every reason, at the top)")
    i.add_argument("--data", default=None,
                   help="Keras models only: calibration data for the int8 conversion (digits | "
                        "digits28 | FILE.npz; default from the input shape, else generated)")

    pr = sub.add_parser("prune", help="prune a Keras model; write PRUNED.keras and PRUNED.json")
    pr.add_argument("model", type=Path, help=".keras, .h5 or SavedModel directory (trained)")
    pr.add_argument("--data", default=None,
                    help="digits | digits28 | FILE.npz (x, y); default from the input shape")
    pr.add_argument("--sparsity", type=_sparsity, default=None,
                    help="target sparsity of each pruned layer (fraction of units for units/filters)")
    pr.add_argument("--out", type=Path, required=True, help="PRUNED.keras (PRUNED.json is written beside it)")
    pr.add_argument("--seed", type=int, default=0)
    _add_prune_options(pr)
    add_executor_options(pr, "--auto-sparsity sweep points")

    sw = sub.add_parser("sweep", help="accuracy vs sparsity per layer and for the whole model, for "
                                      "weight and unit/filter pruning: DIR/sweep.csv and PNG plots")
    sw.add_argument("model", type=Path, help=".keras, .h5 or SavedModel directory (trained)")
    sw.add_argument("--data", default=None,
                    help="digits | digits28 | FILE.npz (x, y); default from the input shape")
    sw.add_argument("--sparsities", default="0.25,0.5,0.6,0.7,0.8,0.9,0.95,0.97,0.99",
                    help="comma-separated sparsity levels (default 0.25,0.5,0.6,0.7,0.8,0.9,0.95,0.97,0.99)")
    sw.add_argument("--out", type=Path, required=True, help="output directory")
    sw.add_argument("--epochs", type=_count, default=0,
                    help="fine-tune epochs per point (default 0: one-shot sensitivity, seconds per model)")
    sw.add_argument("--granularity", default=None, help="weight-pruning pattern (default unstructured)")
    sw.add_argument("--config", type=Path, default=None,
                    help="TOML prune config: decides which layers the whole-model curves prune")
    sw.add_argument("--prune-all", action="store_true", default=None,
                    help="whole-model curves also prune the layers spared by default")
    sw.add_argument("--seed", type=int, default=0)
    add_executor_options(sw, "sweep points")

    r = sub.add_parser("run", help="build DIR, run it, verify against the reference, update report.json")
    r.add_argument("dir", type=Path)
    r.add_argument("--on", choices=["host", "qemu"], default="host")

    rp = sub.add_parser("report", help="write DIR/report.html again from DIR/report.json (one "
                                       "self-contained page: summary, layers, arena, flash)")
    rp.add_argument("dir", type=Path)
    rp.add_argument("--open", action="store_true",
                    help="then open it in the default web browser")

    f = sub.add_parser("flash", help="build DIR for a real board, flash it, read and verify its "
                                     "results over the serial port, store report.json board_run")
    f.add_argument("dir", type=Path)
    f.add_argument("--board", default=None,
                   help="board name or .toml (default: the board DIR was compiled for)")
    f.add_argument("--probe", default=None, metavar="ID",
                   help="debug probe unique ID / serial number (default: the only one attached)")
    f.add_argument("--tool", choices=["pyocd", "openocd"], default="pyocd",
                   help="programming tool (default pyocd)")
    f.add_argument("--port", default=None,
                   help="serial port of the board (default: the probe's virtual COM port)")
    f.add_argument("--dry-run", action="store_true",
                   help="print the exact commands and touch no hardware")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from toolchain import quiet

    if args.verbose:
        quiet.set_verbose(True)
    quiet.quiet_python_logs()
    try:
        import edgesparse
        from toolchain import pipeline
        from toolchain.executor import Executor
        from toolchain.report.report import layer_table, ram_line, summary_table

        if args.command == "demo":
            models = args.models.split(",") if args.models else None
            pipeline.demo(args.out, models=models, sparsity=args.sparsity, seed=args.seed)
        elif args.command == "zoo":
            from toolchain.zoo import run_zoo

            qemu = {"all": True, "small": "small", "none": False}[args.qemu]
            docs = args.docs
            run_zoo(args.out, models=args.models.split(",") if args.models else None,
                    sparsity=args.sparsity, seed=args.seed, qemu=qemu,
                    train_epochs=args.train_epochs, prune_epochs=args.prune_epochs, docs=docs,
                    executor=Executor.from_options(args.workers, args.cluster))
        elif args.command == "compile":
            budget = _accuracy_budget(args)
            prune = None if budget is not None else _prune_config(args, require_sparsity=False)
            if budget is not None:
                from toolchain.quantize.sharing import ShareSpec

                share = ShareSpec(bits="auto", init=args.share_init, epochs=args.share_epochs)
                huffman = args.huffman_decode
            else:
                share = _share_spec(args)
                huffman = args.huffman_decode if args.huffman else None
            from toolchain import executor as units

            units.configure(Executor.from_options(args.workers, args.cluster))
            try:
                result = edgesparse.compile(args.model, out=args.out, data=args.data,
                                            board=args.board, sparsity=args.sparsity,
                                            seed=args.seed, name=args.name,
                                            prune_epochs=args.epochs, prune=prune,
                                            optimize=args.optimize or (
                                                "compact" if budget is not None else "balanced"),
                                            flash_budget=args.flash_budget,
                                            ram_budget=args.ram_budget,
                                            stream_input=args.stream_input,
                                            ramp_epochs=args.ramp_epochs,
                                            code_opt=args.code_opt,
                                            layout=args.layout, share=share,
                                            huffman=huffman, accuracy_budget=budget)
            finally:
                units.configure(None)
            print(layer_table(result.report))
            print(ram_line(result.report))
        elif args.command == "inspect":
            import json

            from toolchain.inspect_model import UNSUPPORTED_EXIT, format_inspection

            info = edgesparse.inspect(args.model, board=args.board, data=args.data)
            print(json.dumps(info, indent=2) if args.json else format_inspection(info))
            if args.html is not None:
                from toolchain.report.html import write_inspection_html

                write_inspection_html(args.html, info)
                if not args.json:
                    print(f"wrote {args.html}")
            if not info["supported"]:
                return UNSUPPORTED_EXIT
        elif args.command == "prune":
            from toolchain.prune.run import prune_file

            prune_file(args.model, args.out, _prune_config(args, require_sparsity=True), args.data,
                       executor=Executor.from_options(args.workers, args.cluster))
        elif args.command == "sweep":
            from toolchain.prune.config import build_config
            from toolchain.prune.run import sweep_file
            from toolchain.prune.sweep import parse_sparsities

            config = build_config({"granularity": args.granularity, "prune_all": args.prune_all},
                                  None, args.config, seed=args.seed)
            sweep_file(args.model, args.out, config, args.data, parse_sparsities(args.sparsities),
                       epochs=args.epochs, executor=Executor.from_options(args.workers, args.cluster))
        elif args.command == "run":
            report = edgesparse.run(args.dir, on=args.on).report
            print(layer_table(report))
            print(summary_table([report]))
            print(ram_line(report))
        elif args.command == "report":
            from toolchain.report.html import open_in_browser, write_report_html

            page = write_report_html(args.dir)
            print(f"wrote {page}")
            if args.open:
                open_in_browser(page)
        elif args.command == "flash":
            report = pipeline.flash_output_dir(args.dir, board=args.board, probe=args.probe,
                                               tool=args.tool, dry_run=args.dry_run, port=args.port)
            if not args.dry_run:
                r = report["board_run"]
                print(f"{r['board']}: {r['samples']} samples, {r['mismatches_vs_reference']} bytes "
                      f"differ from the reference; {r['cycles_per_inference']:,} cycles = "
                      f"{r['ms_per_inference']} ms per inference at {r['clock_hz'] / 1e6:g} MHz")
    except ToolchainError as e:
        print(f"edgesparse: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("edgesparse: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
