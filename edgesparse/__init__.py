"""edgesparse's Python API, for notebooks and scripts; the `edgesparse` command calls the same
functions.

    import edgesparse

    info = edgesparse.inspect("model.tflite", board="mps2-an386")      # dict, before compiling
    result = edgesparse.compile("model.tflite", out="out/model")        # generated inputs
    result = edgesparse.compile(keras_model, out="out/m", data=(x, y))  # prune, quantize, compile
    result = edgesparse.run("out/model", on="host")                     # or on="qemu"
    result.report["mismatches"]                                         # report.json as a dict

Errors a user can cause raise toolchain.errors.ToolchainError (exported here as Error) with a
message naming the file, layer or option at fault.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import toolchain  # noqa: F401  (environment for TensorFlow, quiet imports: before anything else)
from toolchain.errors import ToolchainError as Error

__all__ = ["compile", "run", "inspect", "Result", "Error", "DEFAULT_BOARD", "__version__"]
__version__ = toolchain.__version__

DEFAULT_BOARD = "mps2-an386"
_COMPILE_OPTIONS = ("sparsity", "seed", "name", "optimize", "flash_budget", "layout", "prune",
                    "share", "huffman", "train_epochs", "prune_epochs", "code_opt", "ram_budget",
                    "accuracy_budget", "stream_input", "ramp_epochs")


@dataclass
class Result:
    """An output directory and its report.json (as a dict)."""

    out: Path
    report: dict

    @property
    def mismatches(self) -> dict:
        """Output bytes that differ from the TFLM reference, per run (None: not run yet)."""
        return self.report["mismatches"]

    def layers(self) -> str:
        """The per-layer table the command line prints."""
        from toolchain.report.report import layer_table

        return layer_table(self.report)

    def summary(self) -> str:
        """The one-row summary table the command line prints after a run."""
        from toolchain.report.report import summary_table

        return summary_table([self.report])


def compile(model, out, *, data=None, board: str = DEFAULT_BOARD, **options) -> Result:  # noqa: A001
    """Compile `model` into the directory `out` (written atomically: all or nothing).

    model: a path (.tflite, .keras, .h5, SavedModel directory), .tflite bytes, or an in-memory
      tf_keras model.
    data: None (a .tflite: verify on generated inputs spanning the input's int8 range; a Keras
      model: the built-in dataset matching its input shape), a dataset name ("digits",
      "digits28"), an .npz path (x, optional y), or arrays: (x, y), (x,) or x, real-valued
      samples batch first.
    board: a board name (boards/NAME.toml) or a .toml path.
    options: sparsity (Keras models; default 0.8, 0 skips pruning), seed, name, optimize
      ("speed" | "size" | "balanced" | "compact"), flash_budget (bytes), ram_budget (arena bytes),
      stream_input (True: the input is read row by row through the application's reader,
      es_model_set_input_reader, instead of being written whole into the arena), layout ("firmware" | "library"),
      prune (a toolchain.prune.config.PruneConfig), share (codebook bits 1..5, "auto" or a
      toolchain.quantize.sharing.ShareSpec), huffman ("init" | "stream"), train_epochs,
      prune_epochs (None, the default: fine-tune until validation accuracy and loss stop improving;
      N: exactly N epochs), ramp_epochs (the pruning ramp of that fine-tune in epochs; None:
      2 per halving of the kept weights, 5 at 80%), code_opt ("mixed" | "speed" | "size": the firmware's compiler optimization,
      kernels -O3 and the rest -Os by default), accuracy_budget (points: instead of sparsity,
      search per-layer sparsity, with share "auto", for the smallest blob whose int8 accuracy
      on a held-out split is within that many points of the float model's; optimize then
      defaults to "compact": the smallest blob the whole model runs no slower than dense).
    """
    from toolchain import pipeline

    unknown = sorted(set(options) - set(_COMPILE_OPTIONS))
    if unknown:
        raise TypeError(f"edgesparse.compile() got unknown options {unknown}; known: "
                        f"{', '.join(_COMPILE_OPTIONS)}")
    options = dict(options)
    if options.get("sparsity") is None:
        options["sparsity"] = 0.8
    if options.get("accuracy_budget") is not None and options.get("optimize") is None:
        options["optimize"] = "compact"  # the smallest blob no slower than dense
    if options.get("share") is not None and not hasattr(options["share"], "bits"):
        from toolchain.quantize.sharing import ShareSpec

        options["share"] = ShareSpec(bits=options["share"])
    out = Path(out)
    path, keras_model = None, None
    if hasattr(model, "layers") and hasattr(model, "predict"):
        keras_model = model
        options.setdefault("name", getattr(model, "name", None) or "model")
    elif isinstance(model, (bytes, bytearray)):
        return _compile_bytes(bytes(model), out, data, board, options)
    else:
        path = Path(model)
    report = pipeline.compile_model(path, out, pipeline.CompileOptions(
        board=board, data=_data(data), **options), keras_model=keras_model)
    return Result(out, report)


def _compile_bytes(tflite: bytes, out: Path, data, board: str, options: dict) -> Result:
    import tempfile

    from toolchain import pipeline

    with tempfile.TemporaryDirectory(prefix="edgesparse-") as tmp:
        path = Path(tmp) / f"{options.get('name') or 'model'}.tflite"
        path.write_bytes(tflite)
        report = pipeline.compile_model(path, out, pipeline.CompileOptions(
            board=board, data=_data(data), **options))
    return Result(out, report)


def _data(data):
    """What compile_model takes: None, a name or .npz path (str), or a Dataset of arrays."""
    if data is None or isinstance(data, str):
        return data
    if isinstance(data, Path):
        return str(data)
    from toolchain.data.datasets import Dataset, from_arrays

    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)):
        if not 1 <= len(data) <= 2:
            raise Error(f"data: expected (x, y) or (x,), got a sequence of {len(data)} items")
        return from_arrays(data[0], data[1] if len(data) == 2 else None)
    return from_arrays(data)


def run(out, on: str = "host") -> Result:
    """Build the compiled directory `out`, run it on the host (ctypes) or in QEMU, verify every
    output byte against TFLM and update its report.json. Raises toolchain.errors.VerifyError
    when any byte differs."""
    from toolchain import pipeline

    if on not in ("host", "qemu"):
        raise Error(f"on={on!r}: run on 'host' or 'qemu' (real boards: 'edgesparse flash')")
    out = Path(out)
    return Result(out, pipeline.run_output_dir(out, on))


def inspect(model, board: str = DEFAULT_BOARD, data=None, seed: int = 0) -> dict:
    """Per-layer table and model summary of `model` (as for compile) on `board`, without
    compiling: op, shapes, params, MACs, supported or why not, weight formats, estimated
    instructions; total MACs, weight bytes, estimated arena. Returns the JSON-ready dict
    (result["supported"] is False when any op or the model is not supported; text:
    toolchain.inspect_model.format_inspection)."""
    from toolchain.inspect_model import inspect_model

    return inspect_model(model, board=board, data=_data(data), seed=seed)
