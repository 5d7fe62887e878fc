"""Trained models shared by the pruning tests: trained once per session, saved as .keras, and
loaded afresh by each test (so no test sees another's pruning)."""
import pytest
import trained

import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

MLP_EPOCHS = 3
DW_EPOCHS = 4


@pytest.fixture(scope="session")
def mlp_path(tmp_path_factory, digits28):
    """The 784-300-100-10 MLP on digits28, trained for a few epochs."""
    return trained.train_and_save(tmp_path_factory, "mlp_300_100", digits28, MLP_EPOCHS, "mlp")


@pytest.fixture
def mlp(mlp_path):
    return trained.load(mlp_path)


def build_dw_net(seed=0):
    """conv1 (8) -> depthwise 3x3 -> conv2 (16) -> pool -> flatten -> fc1 (32) -> logits (10)."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    out = keras.layers.Dense(10, activation="softmax", name="logits")(x)
    return keras.Model(inp, out, name="dwnet")


@pytest.fixture(scope="session")
def dw_path(tmp_path_factory, digits):
    from toolchain.models import train

    model = build_dw_net()
    train(model, digits, epochs=DW_EPOCHS, verbose=0)
    path = tmp_path_factory.mktemp("models") / "dwnet.keras"
    model.save(path)
    return path


@pytest.fixture
def dwnet(dw_path):
    from toolchain.models import load_keras_model

    return load_keras_model(dw_path)


@pytest.fixture
def dw_builder():
    return build_dw_net
