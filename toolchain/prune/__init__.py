"""Pruning: schedules, granularity masks (unstructured / block / N:M), magnitude, L1 and
structured (unit / filter) methods in one-shot, iterative and gradual modes, per-layer
settings, and the sensitivity sweep. TensorFlow is imported only by the modules that train.

  magnitude.py    gradual magnitude pruning of every layer (tfmot): fixed epochs, or
                  fine-tuning until validation accuracy and loss stop improving
  granularity.py  patterns and masks in the kernels' row order (plain numpy)
  schedules.py    constant / polynomial / ramp schedules, shared with tfmot
  config.py       PruneConfig, TOML and --layer settings, the per-layer plan
  structured.py   unit / filter removal: a smaller dense model
  masking.py      edgesparse's own masks during training (a Keras callback)
  methods.py      prune_model: methods and modes, the PRUNED.json report
  sweep.py        sensitivity sweep, plots, auto per-layer sparsity
  logs.py         TensorBoard summaries
  run.py          the `prune` and `sweep` commands' file handling
"""
from toolchain.prune.magnitude import layer_sparsity, prune_gradual

__all__ = ["layer_sparsity", "prune_gradual"]
