import numpy as np
import pytest

from toolchain.data import load_dataset
from toolchain.errors import InputFileError, ToolchainError
from toolchain.models import (
    DEFAULT_PRUNE_EPOCHS,
    DEFAULT_TRAIN_EPOCHS,
    DEMO_MODELS,
    MODEL_BUILDERS,
    build_model,
    evaluate,
    load_keras_model,
    train,
)


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_digits_cnn_architecture():
    model = build_model("digits_cnn", (8, 8, 1), 10)
    assert _layer_types(model) == [
        "InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense",
    ]
    assert model.output_shape == (None, 10)
    # conv 3x3x1x16 + conv 3x3x16x32 + dense 128x64 + dense 64x10, each with bias.
    assert model.count_params() == (144 + 16) + (4608 + 32) + (128 * 64 + 64) + (640 + 10)
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_mlp_300_100_is_lenet_300_100():
    model = build_model("mlp_300_100", (28, 28, 1), 10)
    assert _layer_types(model) == ["InputLayer", "Flatten", "Dense", "Dense", "Dense"]
    assert [layer.units for layer in model.layers[2:]] == [300, 100, 10]
    assert model.count_params() == 266_610


def test_build_is_deterministic_per_seed():
    a = build_model("mlp_300_100", (8, 8, 1), 10, seed=5).get_weights()
    b = build_model("mlp_300_100", (8, 8, 1), 10, seed=5).get_weights()
    c = build_model("mlp_300_100", (8, 8, 1), 10, seed=6).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_unknown_model_lists_known_names():
    with pytest.raises(ToolchainError, match="unknown model 'resnet'.*digits_cnn, mlp_300_100"):
        build_model("resnet", (8, 8, 1), 10)


def test_demo_models_refer_to_known_builders_and_defaults():
    for builder, dataset in DEMO_MODELS.values():
        assert builder in MODEL_BUILDERS
        assert dataset in ("digits", "digits28")
        assert DEFAULT_TRAIN_EPOCHS[builder] >= 1
        assert DEFAULT_PRUNE_EPOCHS[builder] >= 1


def test_evaluate_counts_argmax_hits():
    model = build_model("mlp_300_100", (4,), 3)
    x = np.eye(4, dtype=np.float32)[:3]
    predictions = np.argmax(model.predict(x, verbose=0), axis=-1)
    assert evaluate(model, x, predictions) == 1.0
    assert evaluate(model, x, (predictions + 1) % 3) == 0.0


@pytest.mark.train
@pytest.mark.slow
def test_train_two_epochs_learns_digits():
    ds = load_dataset("digits")
    model = build_model("digits_cnn", ds.input_shape, ds.num_classes)
    history = train(model, ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    assert evaluate(model, ds.x_test, ds.y_test) > 0.6


@pytest.mark.parametrize("name", ["model.keras", "model.h5", "saved_model_dir"])
def test_load_round_trip(tmp_path, name):
    model = build_model("mlp_300_100", (8, 8, 1), 10)
    path = tmp_path / name
    model.save(path)
    loaded = load_keras_model(path)
    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_load_missing_file(tmp_path):
    path = tmp_path / "absent.keras"
    with pytest.raises(InputFileError, match="absent.keras does not exist"):
        load_keras_model(path)


def test_load_text_file_named_keras(tmp_path):
    path = tmp_path / "fake.keras"
    path.write_text("not a model")
    with pytest.raises(InputFileError, match="fake.keras: not a Keras model that can be loaded"):
        load_keras_model(path)


def test_load_unsupported_extension(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\0")
    with pytest.raises(InputFileError, match="model.onnx has an unsupported extension"):
        load_keras_model(path)


def test_load_directory_without_saved_model(tmp_path):
    with pytest.raises(InputFileError, match="is not a SavedModel"):
        load_keras_model(tmp_path)
