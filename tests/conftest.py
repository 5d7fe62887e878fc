"""Fixtures shared by the tests: convert a Keras model to int8, compile it, run it on the host."""
import os

import pytest

import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
import trained
from requires import MISSING

pytest_plugins = ["marker_audit"]


@pytest.fixture
def to_int8():
    """(keras model, float inputs) -> int8 .tflite bytes."""
    from toolchain.quantize.convert import to_int8_tflite

    return lambda model, x: to_int8_tflite(model, x)


@pytest.fixture
def host_vs_reference(tmp_path):
    """(tflite, float inputs, force_format=None, defines=()) -> (ours, tflm reference, plan),
    int8 [N, out], the output buffer's bytes (a float32 output's raw bytes); defines are
    extra -D macros for the host build (e.g. ES_FORCE_DSP)."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.pipeline import input_samples, plan_model, reference
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import HostModel

    counter = iter(range(1000))

    def run(tflite, x, force_format=None, defines=()):
        work = tmp_path / f"m{next(counter)}"
        plan = plan_model(tflite, "test_model", force_format=force_format)
        write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, work / "src")
        lib = build_host_library(work / "src", work / "build", sanitize=False, defines=defines)
        xq = input_samples(plan.graph, x)
        ours = HostModel(lib).run(xq).reshape(len(xq), -1)
        ref = reference(tflite, xq)
        return ours, ref, plan

    return run


# The digits CNN trained once per session: the pruning, conversion and reference tests all
# start from it (each test loads a fresh copy), so no test trains it again.
CNN_EPOCHS = 6


@pytest.fixture(scope="session")
def digits():
    from toolchain.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits28():
    from toolchain.data import load_dataset

    return load_dataset("digits28")


@pytest.fixture(scope="session")
def cnn_path(tmp_path_factory, digits):
    """The digits CNN (conv1 16, conv2 32, fc1 64, logits 10) trained for a few epochs."""
    return trained.train_and_save(tmp_path_factory, "digits_cnn", digits, CNN_EPOCHS, "cnn")


@pytest.fixture
def cnn(cnn_path):
    return trained.load(cnn_path)


@pytest.fixture(scope="session")
def cnn_int8(cnn_path, digits):
    """The trained digits CNN as an int8 .tflite (calibrated on 100 training samples)."""
    from toolchain.models import load_keras_model
    from toolchain.quantize.convert import to_int8_tflite

    return to_int8_tflite(load_keras_model(cnn_path), digits.x_train, max_samples=100)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a test skipped for a missing tool (tests/requires.py) fails instead, naming
    the tool: CI's machine must have everything the project's bootstrap installs."""
    import marker_audit  # registered as a plugin above; imported here so pytest rewrites it first

    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        marker_audit.check(item, report)
    if os.environ.get("CI") != "true" or not report.skipped:
        return
    longrepr = report.longrepr
    why = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    if MISSING in why:
        report.outcome = "failed"
        report.longrepr = f"CI=true, so this is a failure, not a skip: {why}"


def pytest_sessionstart(session):
    import marker_audit

    marker_audit.install()


def pytest_sessionfinish(session):
    import marker_audit

    marker_audit.write_record()
