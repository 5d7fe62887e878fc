"""The `edgesparse` command: argument parsing only; the work is in toolchain.pipeline."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolchain.errors import ToolchainError


def _sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1): pass e.g. 0.8 for 80% zeros")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgesparse",
        description="Prune and int8-quantize Keras models, generate sparse C for Cortex-M, "
                    "and verify it bit for bit against TFLite's reference kernels.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="train, prune, quantize, generate, build, run and verify the "
                                    "two demo models (digits CNN, digits28 MLP)")
    d.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory (default out/demo)")
    d.add_argument("--models", default=None,
                   help="comma-separated subset of the demo models: digits,digits28")
    d.add_argument("--sparsity", type=_sparsity, default=0.8, help="target sparsity (default 0.8)")
    d.add_argument("--seed", type=int, default=0)

    c = sub.add_parser("compile", help="compile a model into DIR (sources, report.json)")
    c.add_argument("model", type=Path, help=".keras, .h5, SavedModel directory, or int8 .tflite")
    c.add_argument("--out", type=Path, required=True, help="output directory")
    c.add_argument("--board", default="mps2-an386", help="board name or .toml (default mps2-an386)")
    c.add_argument("--sparsity", type=_sparsity, default=0.8,
                   help="target sparsity for Keras models (default 0.8; 0 skips pruning)")
    c.add_argument("--data", default=None,
                   help="digits | digits28 | FILE.npz (x, optional y); default from the input shape")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--name", default=None,
                   help="model name used in the sources and report (default: the file's stem)")

    r = sub.add_parser("run", help="build DIR, run it, verify against the reference, update report.json")
    r.add_argument("dir", type=Path)
    r.add_argument("--on", choices=["host", "qemu"], default="host")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from toolchain import pipeline
        from toolchain.report.report import layer_table, summary_table

        if args.command == "demo":
            models = args.models.split(",") if args.models else None
            pipeline.demo(args.out, models=models, sparsity=args.sparsity, seed=args.seed)
        elif args.command == "compile":
            report = pipeline.compile_model(args.model, args.out, board=args.board,
                                            sparsity=args.sparsity, data=args.data, seed=args.seed,
                                            name=args.name)
            print(layer_table(report))
        elif args.command == "run":
            report = pipeline.run_output_dir(args.dir, args.on)
            print(layer_table(report))
            print(summary_table([report]))
    except ToolchainError as e:
        print(f"edgesparse: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("edgesparse: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
