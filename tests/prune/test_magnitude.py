import numpy as np
import pytest

from toolchain.data import load_dataset
from toolchain.errors import ToolchainError
from toolchain.models import build_model, evaluate, load_keras_model
from toolchain.prune import layer_sparsity, prune_gradual
from toolchain.prune.magnitude import pruning_steps


@pytest.mark.parametrize("target", [-0.1, 1.0, 1.5])
def test_target_out_of_range_is_rejected(target):
    model = build_model("mlp_300_100", (8, 8, 1), 10)
    with pytest.raises(ToolchainError, match=rf"^target sparsity must be in \[0, 1\), got {target}$"):
        prune_gradual(model, load_dataset("digits"), target)


def test_layer_sparsity_counts_kernel_zeros_only():
    model = build_model("mlp_300_100", (8, 8, 1), 10)
    fc1 = model.get_layer("fc1")
    kernel, bias = fc1.get_weights()
    kernel[:, :150] = 0.0  # half of the 300 output columns
    fc1.set_weights([kernel, np.zeros_like(bias)])
    sparsity = layer_sparsity(model)
    assert list(sparsity) == ["fc1", "fc2", "logits"]
    assert sparsity["fc1"] == pytest.approx(0.5)
    assert sparsity["fc2"] == 0.0


@pytest.mark.train
@pytest.mark.slow
def test_prune_gradual_reaches_target_on_trained_cnn(tmp_path, cnn, digits):
    ds = digits
    pruned = prune_gradual(cnn, ds, 0.8, epochs=2, verbose=0)

    assert all("PruneLowMagnitude" not in type(layer).__name__ for layer in pruned.layers)
    assert pruned.optimizer is not None
    sparsity = layer_sparsity(pruned)
    assert list(sparsity) == ["conv1", "conv2", "fc1", "logits"]
    for name, value in sparsity.items():
        assert abs(value - 0.8) <= 0.01, f"{name}: {value}"
    assert evaluate(pruned, ds.x_test, ds.y_test) > 0.5

    path = tmp_path / "pruned.keras"
    pruned.save(path)
    reloaded = load_keras_model(path)
    assert layer_sparsity(reloaded) == sparsity


@pytest.mark.train
@pytest.mark.slow
def test_prune_to_zero_keeps_weights_dense():
    ds = load_dataset("digits")
    model = build_model("mlp_300_100", ds.input_shape, ds.num_classes)
    pruned = prune_gradual(model, ds, 0.0, epochs=1, verbose=0)
    assert max(layer_sparsity(pruned).values()) < 0.01


@pytest.mark.parametrize("total_steps", [1, 2, 43, 86, 860, 1000])
def test_schedule_ends_on_a_mask_update(total_steps):
    end_step, frequency = pruning_steps(total_steps)
    assert end_step % frequency == 0
    assert 0.6 * total_steps - frequency <= end_step <= 0.7 * total_steps or total_steps < 3
    assert end_step // frequency >= min(10, end_step)
