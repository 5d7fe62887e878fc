"""Example model builders. TensorFlow is imported only when a model is built."""
from __future__ import annotations

from toolchain.errors import ToolchainError

MODEL_BUILDERS = ("digits_cnn", "mlp_300_100", "lenet5")

# Demo model name -> (builder name, dataset name).
DEMO_MODELS = {
    "digits": ("digits_cnn", "digits"),
    "digits28": ("mlp_300_100", "digits28"),
}

# Float training and pruning fine-tune epochs per builder, chosen so that with seed 0 the
# int8 reference accuracy after pruning to 80 % stays within 2 points of the float model.
DEFAULT_TRAIN_EPOCHS = {"digits_cnn": 30, "mlp_300_100": 15, "lenet5": 15}
DEFAULT_PRUNE_EPOCHS = {"digits_cnn": 20, "mlp_300_100": 8, "lenet5": 8}


def build_model(name: str, input_shape, num_classes: int, seed: int = 0):
    """Build an uncompiled keras.Model named `name` for inputs of `input_shape` (no batch).

    Weights are initialised deterministically from `seed`. Raises ToolchainError for an
    unknown name.
    """
    if name not in MODEL_BUILDERS:
        raise ToolchainError(f"unknown model {name!r}: known models are {', '.join(MODEL_BUILDERS)}")
    if num_classes < 2:
        raise ToolchainError(f"model {name!r} needs num_classes >= 2, got {num_classes}")
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    if name == "digits_cnn":
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
        x = keras.layers.MaxPooling2D(2, name="pool1")(x)
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
        x = keras.layers.MaxPooling2D(2, name="pool2")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(64, activation="relu", name="fc1")(x)
    elif name == "lenet5":  # the LeNet-5 shape Deep Compression measures
        x = keras.layers.Conv2D(20, 5, activation="relu", name="conv1")(inputs)
        x = keras.layers.MaxPooling2D(2, name="pool1")(x)
        x = keras.layers.Conv2D(50, 5, activation="relu", name="conv2")(x)
        x = keras.layers.MaxPooling2D(2, name="pool2")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(500, activation="relu", name="fc1")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(inputs)
        x = keras.layers.Dense(300, activation="relu", name="fc1")(x)
        x = keras.layers.Dense(100, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
