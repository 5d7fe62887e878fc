"""The model zoo end to end: every zoo model trained (one epoch: accuracy is not the point),
pruned, converted, compiled dense and pruned, and every output byte compared with the TFLM
reference: on the host for every model, in QEMU (mps2-an386) for the small ones. Also checks
that each model really exercises the ops it is in the zoo for."""
import json
import subprocess
import sys

import pytest

from toolchain.models.zoo import ZOO

pytestmark = pytest.mark.slow  # every zoo model trained, converted twice, compiled, run: minutes

SMALL = [n for n, e in ZOO.items() if e.small]
LARGE = [n for n, e in ZOO.items() if not e.small]

# The ops (as the runtime runs them) each model is in the zoo to cover.
EXPECTED_OPS = {
    "ds_cnn": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "resnet8": {"CONV_2D", "ADD", "AVERAGE_POOL_2D", "FULLY_CONNECTED"},
    "mobilenet_v1_025": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"},
    "ad_autoencoder": {"FULLY_CONNECTED"},
    "conv1d_sensor": {"RESHAPE", "CONV_2D", "MAX_POOL_2D", "MEAN"},
    "bn_dropout": {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"},
    "sigmoid_head": {"FULLY_CONNECTED", "LOGISTIC"},
    "tanh_head": {"FULLY_CONNECTED", "TANH"},
    "two_branch_concat": {"CONV_2D", "DEPTHWISE_CONV_2D", "CONCATENATION"},
    "crop_gap": {"STRIDED_SLICE", "PAD", "MEAN", "CONV_2D"},
}

KEYS = ("params", "weight_bytes", "arena_bytes", "arena_bytes_tflm", "instructions_pruned",
        "instructions_dense", "mismatches")


def _check_common(result, names, tmp):
    assert list(result["models"]) == names
    on_disk = json.loads((tmp / "zoo.json").read_text())
    assert on_disk["models"].keys() == result["models"].keys()
    table = (tmp / "ZOO.md").read_text()
    assert (tmp / "zoo.png").stat().st_size > 0
    for name in names:
        r = result["models"][name]
        for k in KEYS:
            assert k in r, f"{name}: zoo.json lacks {k}"
        assert f"| {name} |" in table
        assert EXPECTED_OPS[name] <= set(r["ops"]), f"{name} runs {r['ops']}"
        # bit-exact: every output byte of every run, dense and pruned
        assert r["mismatches"] == 0, f"{name}: {r['mismatches_detail']}"
        assert r["mismatches_detail"]["dense_host_vs_reference"] == 0
        assert r["mismatches_detail"]["pruned_host_vs_reference"] == 0
        assert r["samples"]["host"] > 0
        # pruning to 80% shrinks the blob; the arena is below what TFLM needs
        assert r["weight_bytes"] < r["weight_bytes_dense"], name
        # 80% of every Conv2D, Dense and DepthwiseConv2D kernel (biases stay)
        assert r["nonzero_weights_pruned"] < 0.21 * r["weight_params"], name
        assert 0 < r["arena_bytes"] < r["arena_bytes_tflm"], name


@pytest.mark.convert
@pytest.mark.qemu
@pytest.mark.train
def test_zoo_small_models_host_and_qemu(tmp_path):
    from toolchain.zoo import run_zoo

    out = tmp_path / "zoo"
    result = run_zoo(out, models=SMALL, qemu="small", train_epochs=1, prune_epochs=1)
    _check_common(result, SMALL, out)
    for name in SMALL:
        r = result["models"][name]
        assert r["samples"]["qemu"] > 0
        assert r["mismatches_detail"]["dense_qemu_vs_reference"] == 0
        assert r["mismatches_detail"]["pruned_qemu_vs_reference"] == 0
        assert r["instructions_dense"] > 0 and r["instructions_pruned"] > 0
        assert r["fit_2mb_flash_320kb_ram"]["fits"]
    # each variant is an ordinary compile directory that `edgesparse run` accepts
    report = json.loads((out / SMALL[0] / "pruned" / "report.json").read_text())
    assert report["mismatches"]["qemu_vs_reference"] == 0


@pytest.mark.convert
@pytest.mark.train
def test_zoo_mlperf_models_on_host(tmp_path):
    from toolchain.zoo import run_zoo

    out = tmp_path / "zoo"
    result = run_zoo(out, models=LARGE, qemu=False, train_epochs=1, prune_epochs=1)
    _check_common(result, LARGE, out)
    for name in LARGE:
        assert result["models"][name]["instructions_pruned"] is None  # not run in QEMU here
    mobilenet = result["models"]["mobilenet_v1_025"]
    assert mobilenet["params"] > 200_000
    # pruned MobileNetV1 0.25 is far inside a 2 MB flash / 320 KB RAM board's budget
    assert mobilenet["weight_bytes"] < 2 * 1024 * 1024 and mobilenet["arena_bytes"] < 320 * 1024


def test_zoo_unknown_model_is_refused_and_writes_nothing(tmp_path):
    out = tmp_path / "zoo"
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", "zoo", "--out", str(out),
                           "--models", "resnet8,lenet9000"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unknown zoo model lenet9000" in proc.stderr
    assert "ds_cnn" in proc.stderr  # names what the zoo has
    assert not out.exists()


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_data_is_generated_deterministically(name):
    import numpy as np

    from toolchain.models.zoo import zoo_dataset

    a, b = zoo_dataset(ZOO[name].data, 0), zoo_dataset(ZOO[name].data, 0)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.x_test, b.x_test)
    assert np.isfinite(a.x_train).all() and len(a.x_test) > 0
