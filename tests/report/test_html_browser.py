"""report.html in a real browser (headless Chromium through chromedriver and selenium, all from
Debian's packages and pyproject's dev extra; scripts/bootstrap.sh installs them): the page of a
compiled, host- and QEMU-verified digits CNN loads with no console error and no network
request, its summary numbers are report.json's, the layer table sorts; the inspection page of a
model with an op edgesparse lacks shows the refusal. Each test saves a full-page screenshot
beside its tmp files (the path is printed; `pytest -s` shows it)."""
import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from requires import MISSING, require
from toolchain.cli import main
from toolchain.report.html import REPORT_HTML

pytestmark = [pytest.mark.slow]


def _lookup(report: dict, key: str):
    value = report
    for part in key.split("."):
        value = value[part]
    return value


def _text_of(value) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if isinstance(value, float) else f"{value:,}"


@pytest.fixture
def browser():
    """Headless Chromium with its console and network logs on."""
    require("chromium", "chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(f"{MISSING} selenium (pip install -e .[dev]; scripts/bootstrap.sh does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1360,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def _requests(driver) -> list[str]:
    """URLs of every request the page made (Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _screenshot(driver, path: Path) -> Path:
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    return path


def _column(driver, table_id: str, col: int) -> list:
    rows = driver.find_elements("css selector", f"#{table_id} > tbody > tr")
    values = []
    for row in rows:
        raw = row.find_elements("css selector", ":scope > td")[col].get_attribute("data-sort")
        values.append(None if raw in ("", None) else float(raw))
    return values


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, cnn_int8):
    """The digits CNN (the demo's architecture, briefly trained) compiled as the demo compiles
    it, run on the host and in QEMU: every section of the page has its figures."""
    require("arm-none-eabi-gcc", "qemu-system-arm")
    work = tmp_path_factory.mktemp("demo_page")
    model = work / "digits_int8.tflite"
    model.write_bytes(cnn_int8)
    out = work / "digits"
    assert main(["compile", str(model), "--out", str(out), "--data", "digits", "--name", "digits"]) == 0
    assert main(["run", str(out), "--on", "host"]) == 0
    assert main(["run", str(out), "--on", "qemu"]) == 0
    return out


@pytest.mark.train
@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
def test_demo_page_loads_offline_matches_report_json_and_sorts(browser, demo_dir, tmp_path):
    report = json.loads((demo_dir / "report.json").read_text())
    page = demo_dir / REPORT_HTML
    _open(browser, page)
    assert browser.title.startswith("digits on mps2-an386")
    assert _console_errors(browser) == []
    requests = _requests(browser)
    assert requests and all(u == page.resolve().as_uri() or u.startswith("data:") for u in requests), requests

    # the summary: every figure is report.json's value, shown as the tables print it
    verdict = browser.find_element("id", "verdict")
    assert verdict.get_attribute("data-state") == "good" and "Bit-exact" in verdict.text
    figures = browser.find_elements("css selector", "#summary [data-key][data-value]")
    shown = {}
    for f in figures:
        key = f.get_attribute("data-key")
        if not key:
            continue
        value = _lookup(report, key)
        assert json.loads(f.get_attribute("data-value")) == value, key
        assert f.text.strip() == _text_of(value), key
        shown[key] = value
    assert {"accuracy.int8_host", "accuracy.int8_qemu", "mismatches.host_vs_reference",
            "mismatches.qemu_vs_reference", "instructions_per_inference",
            "dense_instructions_per_inference", "fit.flash_used", "fit.flash_bytes", "weights.bytes",
            "firmware.text", "fit.ram_used", "arena_bytes", "stack_bytes"} <= set(shown)
    assert browser.find_element("id", "card-accuracy").is_displayed()

    # the layer table sorts: MACs (column 3) up, then down; # (column 0) restores the order
    rows = browser.find_elements("css selector", "#layer-table > tbody > tr")
    assert len(rows) == len(report["layers"])
    header = browser.find_elements("css selector", "#layer-table > thead th")
    macs = next(i for i, th in enumerate(header) if th.text.startswith("MACs"))
    first = _column(browser, "layer-table", macs)
    assert first == [float(l["macs"]) for l in report["layers"]]
    header[macs].find_element("css selector", "button").click()
    up = _column(browser, "layer-table", macs)
    assert up == sorted(first) and header[macs].get_attribute("aria-sort") == "ascending"
    header[macs].find_element("css selector", "button").click()
    assert _column(browser, "layer-table", macs) == sorted(first, reverse=True)
    header[0].find_element("css selector", "button").click()
    assert _column(browser, "layer-table", 0) == [float(i) for i in range(len(report["layers"]))]
    names = [r.find_element("css selector", ".layer").text for r in
             browser.find_elements("css selector", "#layer-table > tbody > tr")]
    assert names[0] == "conv1" and "fc1" in names

    for section in ("arena", "flash"):
        figure = browser.find_element("css selector", f"#{section} svg")
        assert figure.size["width"] > 600 and figure.size["height"] > 30
    assert _console_errors(browser) == []
    assert _screenshot(browser, tmp_path / "demo_report.png").stat().st_size > 50_000


@pytest.mark.convert
def test_refused_model_page_shows_the_unsupported_op(browser, tmp_path, capsys):
    """A keyword-spotting-shaped model with a GATHER (an op the runtime lacks) in the middle:
    `inspect --html` exits 3 and its page says why, first thing."""
    import tensorflow as tf
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((49, 10, 1), batch_size=1)
    x = keras.layers.Conv2D(8, (10, 4), strides=(2, 2), padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.Lambda(lambda t: tf.gather(t, [7, 6, 5, 4, 3, 2, 1, 0], axis=-1))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(12)(x), name="kws_with_gather")
    sample = np.random.default_rng(0).random((16, 49, 10, 1), dtype=np.float32)
    path = tmp_path / "kws_with_gather.tflite"
    path.write_bytes(to_int8_tflite(model, sample))

    page = tmp_path / "inspect.html"
    assert main(["inspect", str(path), "--html", str(page)]) == 3
    assert main(["inspect", str(path), "--json"]) == 3
    info = json.loads(capsys.readouterr().out.split(f"wrote {page}\n", 1)[-1])
    reasons = [r["reason"] for r in info["layers"] if not r["supported"]]
    assert len(reasons) == 1 and "GATHER" in reasons[0]

    _open(browser, page)
    assert _console_errors(browser) == []
    requests = _requests(browser)
    assert all(u == page.resolve().as_uri() or u.startswith("data:") for u in requests), requests
    refusal = browser.find_element("id", "refusal")
    assert refusal.is_displayed() and refusal.get_attribute("data-supported") == "false"
    assert refusal.location["y"] < 400  # the first thing below the title
    assert "Not supported" in refusal.text and "GATHER" in refusal.text
    assert [e.text for e in refusal.find_elements("css selector", ".reason")] == reasons
    row = browser.find_element("css selector", "#layer-table tr.unsupported")
    assert "GATHER" in row.text
    assert _screenshot(browser, tmp_path / "refused_model.png").stat().st_size > 20_000
