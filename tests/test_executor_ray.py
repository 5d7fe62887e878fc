"""A real Ray cluster on 127.0.0.1 (a head with 2 CPUs, started with `ray start --head` and
stopped at the end): a small sweep and a small benchmark matrix through --cluster give files
byte-identical to the serial run's."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from requires import needs

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from benchmarks.executor_bench import local_ray_cluster  # noqa: E402


@pytest.fixture(scope="module")
def ray_cluster():
    """ray://127.0.0.1:PORT of a head node with 2 CPUs; its processes are ended at the end."""
    if not Path(sys.executable).with_name("ray").is_file():
        pytest.skip("the ray package is not installed in this environment")
    with local_ray_cluster(2) as address:
        yield address


@pytest.mark.slow
@pytest.mark.train
def test_sweep_on_the_cluster_equals_the_serial_sweep(ray_cluster, cnn_path, tmp_path, monkeypatch):
    from toolchain.cli import main

    monkeypatch.delenv("RAY_ADDRESS", raising=False)

    def run(tag, *extra):
        monkeypatch.setenv("EDGESPARSE_CACHE", str(tmp_path / f"cache-{tag}"))  # no shared cache
        assert main(["sweep", str(cnn_path), "--data", "digits", "--sparsities", "0.5,0.9",
                     "--out", str(tmp_path / tag), *extra]) == 0
        return [(tmp_path / tag / name).read_bytes() for name in ("sweep.csv", "sweep.json")]

    serial = run("serial")
    assert len(serial[0].decode().splitlines()) == 1 + 19  # header, baseline, 18 points
    assert run("cluster", "--cluster", ray_cluster) == serial
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)  # the variable stands for --cluster
    assert run("env") == serial
    cached = list((tmp_path / "cache-env" / "units" / "sweep").glob("*.json"))
    assert len(cached) == 19


@pytest.mark.slow
@pytest.mark.firmware
@pytest.mark.qemu
@needs("arm-none-eabi-gcc", "qemu-system-arm")
def test_benchmark_matrix_on_the_cluster_equals_the_serial_run(ray_cluster, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}

    def run(tag, *extra):
        results = tmp_path / f"{tag}.json"
        cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--quick",
               "--boards", "mps2-an386", "--shapes", "784x300", "--formats", "dense,csr8",
               "--sparsities", "0.9", "--results", str(results), "--no-doc",
               "--work", str(tmp_path / f"work-{tag}"), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return results.read_bytes(), proc

    serial, _ = run("serial", "--workers", "1")
    rows = json.loads(serial)
    assert sorted(r["format"] for r in rows) == ["csr8", "dense_c", "dense_dsp"]
    assert all(r["mismatches"] == 0 for r in rows)
    on_cluster, proc = run("cluster", "--cluster", ray_cluster)
    assert on_cluster == serial
    assert f"on Ray cluster {ray_cluster}" in proc.stdout
    assert "ray" not in proc.stderr.lower()  # Ray's own log lines stay out of the way
