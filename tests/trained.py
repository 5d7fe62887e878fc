"""Trained models for session-scoped fixtures: each is trained once per test session, saved as
.keras, and loaded afresh by every test that asks for it (so no test sees another's changes)."""


def train_and_save(tmp_path_factory, arch: str, data, epochs: int, name: str):
    """Builds toolchain.models' `arch` for `data`, trains it for `epochs` (seeded, deterministic)
    and returns the path of the saved .keras file."""
    from toolchain.models import build_model, train

    model = build_model(arch, data.input_shape, data.num_classes)
    train(model, data, epochs=epochs, verbose=0)
    path = tmp_path_factory.mktemp("models") / f"{name}.keras"
    model.save(path)
    return path


def load(path):
    from toolchain.models import load_keras_model

    return load_keras_model(path)
