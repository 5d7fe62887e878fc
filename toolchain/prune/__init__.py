"""Pruning: gradual magnitude pruning (tfmot) and sparsity measurement."""
from toolchain.prune.magnitude import layer_sparsity, prune_gradual

__all__ = ["layer_sparsity", "prune_gradual"]
