"""Example model builders, training and Keras model loading (tf_keras)."""
from toolchain.models.builders import (
    DEFAULT_PRUNE_EPOCHS,
    DEFAULT_TRAIN_EPOCHS,
    DEMO_MODELS,
    MODEL_BUILDERS,
    build_model,
)
from toolchain.models.train import evaluate, load_keras_model, train

__all__ = [
    "DEFAULT_PRUNE_EPOCHS",
    "DEFAULT_TRAIN_EPOCHS",
    "DEMO_MODELS",
    "MODEL_BUILDERS",
    "build_model",
    "evaluate",
    "load_keras_model",
    "train",
]
