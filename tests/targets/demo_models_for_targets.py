"""The two demo models (toolchain.models.builders.DEMO_MODELS: the digits CNN and the
784-300-100-10 MLP on digits28), compiled by the real pipeline for the target tests.

They are trained for one epoch and pruned to 80% over one fine-tune epoch instead of the
demo's 30+20 / 15+8 epochs: the board tests check that the firmware runs them bit-exact and
fits, which depends on the architecture, the sparsity and the chosen weight formats, not on
accuracy. Everything after training (int8 conversion, planning, codegen, the reference
interpreter) is exactly what `edgesparse demo` does."""
from __future__ import annotations

from pathlib import Path

DEMO_NAMES = ("digits", "digits28")


def compile_demo_models(root: Path, board: str = "mps2-an386") -> dict[str, Path]:
    """Compiles both demo models into root/<name>; returns {name: output dir}."""
    from toolchain.data.datasets import load_dataset
    from toolchain.models.builders import DEMO_MODELS, build_model
    from toolchain.pipeline import compile_model

    out = {}
    for name in DEMO_NAMES:
        builder, data = DEMO_MODELS[name]
        ds = load_dataset(data, seed=0)
        model = build_model(builder, ds.input_shape, ds.num_classes, seed=0)
        out[name] = Path(root) / name
        compile_model(None, out[name], board=board, sparsity=0.8, data=data, seed=0,
                      keras_model=model, name=name, train_epochs=1, prune_epochs=1)
    return out
