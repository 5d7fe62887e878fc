"""toolchain.executor on local processes: results in unit order whatever finishes first, a
failed unit retried once and then named, the cache resumes a run, bad options refused."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolchain.errors import ToolchainError
from toolchain.executor import Executor, Unit


def slow_square(shared, x):
    time.sleep(0.05 * (5 - x))  # the first units finish last
    return {"x": x, "square": x * x + shared["offset"], "pid": 0}


def flaky(shared, x):
    """Fails the first time it runs for x == 2 (a marker file says it ran), always for x == 3."""
    marker = os.path.join(shared["dir"], f"ran-{x}")
    if x == 3:
        raise ValueError("three is refused")
    if x == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return x


def counted(shared, x):
    with open(os.path.join(shared["dir"], f"ran-{x}"), "a") as f:
        f.write("x")
    if x == shared.get("fail"):
        raise RuntimeError("interrupted")
    return [x, x]


def crash(shared, x):
    """The worker process dies (as if killed) running x == 0, after the others are done."""
    if x == 0:
        time.sleep(1.0)
        os._exit(3)
    return x


def _units(n, key=False):
    return [Unit(f"u{x}", (x,), f"k{x}" if key else None) for x in range(n)]


@pytest.mark.parametrize("workers", [1, 2])
def test_results_follow_unit_order_not_completion(workers):
    out = Executor(workers).run(slow_square, _units(5), {"offset": 1}, progress=False)
    assert list(out.results) == [f"u{x}" for x in range(5)]
    assert [r["square"] for r in out.results.values()] == [1, 2, 5, 10, 17]
    assert out.failures == {}
    assert set(out.seconds) == set(out.results)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_is_retried_once_then_named(workers, tmp_path):
    out = Executor(workers).run(flaky, _units(5), {"dir": str(tmp_path)}, progress=False)
    assert out.results == {"u0": 0, "u1": 1, "u2": 2, "u4": 4}  # u2 passed on its retry
    assert out.failures == {"u3": "ValueError: three is refused"}
    with pytest.raises(ToolchainError, match="1 points failed twice: u3: ValueError: three"):
        out.raise_failures("points")


def test_a_dead_worker_is_a_failure_of_its_unit_only():
    out = Executor(2).run(crash, _units(4), {}, progress=False)
    assert out.results == {"u1": 1, "u2": 2, "u3": 3}
    assert list(out.failures) == ["u0"] and "BrokenProcessPool" in out.failures["u0"]


def test_the_cache_resumes_an_interrupted_run(tmp_path):
    cache = tmp_path / "cache"
    first = Executor(2).run(counted, _units(4, key=True), {"dir": str(tmp_path), "fail": 2},
                            cache_dir=cache, progress=False)
    assert list(first.failures) == ["u2"] and len(first.results) == 3
    assert (tmp_path / "ran-2").read_text() == "xx"  # tried twice
    again = Executor(1).run(counted, _units(4, key=True), {"dir": str(tmp_path)},
                            cache_dir=cache, progress=False)
    assert again.cached == 3 and again.failures == {}
    assert again.results == {f"u{x}": [x, x] for x in range(4)}
    assert [(tmp_path / f"ran-{x}").read_text() for x in range(4)] == ["x", "x", "xxx", "x"]
    assert json.loads((cache / "k1.json").read_text()) == [1, 1]


def test_units_without_a_key_are_not_cached(tmp_path):
    Executor(1).run(counted, _units(2), {"dir": str(tmp_path)}, cache_dir=tmp_path / "c",
                    progress=False)
    assert not (tmp_path / "c").exists()


def test_bad_options_are_refused(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ToolchainError, match="--workers 0: expected at least 1"):
        Executor.from_options(0)
    with pytest.raises(ToolchainError, match="cluster address 'nowhere'"):
        Executor.from_options(None, "nowhere")
    with pytest.raises(ToolchainError, match="unit names must be unique, repeated: a"):
        Executor().run(counted, [Unit("a", (0,)), Unit("a", (1,))], {}, progress=False)
    assert Executor.from_options() == Executor(1, None)
    assert Executor.from_options(3) == Executor(3, None)
    monkeypatch.setenv("RAY_ADDRESS", "ray://127.0.0.1:1")
    with pytest.raises(ToolchainError, match=r"cannot reach the Ray cluster at ray://127.0.0.1:1 "
                                             r"\(.*\): start one with `ray start --head`"):
        Executor.from_options(2)
    monkeypatch.setenv("EDGESPARSE_WORKER_THREADS", "zero")
    with pytest.raises(ToolchainError, match="EDGESPARSE_WORKER_THREADS='zero'"):
        Executor(2).run(counted, _units(2), {}, progress=False)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_cluster_is_one_line_and_a_failure(tmp_path, monkeypatch, capsys):
    """From the command line, before any work (the model file is not even read): status 2,
    one line naming the address and what to do; ray is not imported."""
    from toolchain.cli import main

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    address = f"ray://127.0.0.1:{_closed_port()}"
    code = main(["sweep", str(tmp_path / "absent.keras"), "--out", str(tmp_path / "o"),
                 "--cluster", address])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"edgesparse: error: cannot reach the Ray cluster at {address} (")
    assert "ray start --head" in err and "RAY_ADDRESS" in err
    monkeypatch.setenv("RAY_ADDRESS", address)
    assert main(["prune", str(tmp_path / "absent.keras"), "--out", str(tmp_path / "p.keras"),
                 "--sparsity", "0.5"]) == 2
    assert address in capsys.readouterr().err
    # a fresh process: the address is refused without importing ray
    script = (f"import sys; from toolchain.cli import main; code = main(['sweep', 'absent.keras', "
              f"'--out', 'o', '--cluster', {address!r}]); print(code, 'ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
