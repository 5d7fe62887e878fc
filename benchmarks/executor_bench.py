"""How the executor scales: a sensitivity sweep of the digits CNN (every weighted layer alone at
six sparsities, weight pruning) and `benchmarks/run.py` on BENCH_ARGS (every row measured again), each run serially,
with --workers 2 and on a local Ray cluster with 2 CPUs (started here and stopped at the end);
wall time of each, speed-up over serial, per-unit times, and from those an estimate of the full
`make bench` and of a 50-layer sweep on a 16-node x 8-core cluster.

Writes benchmarks/executor.json. Every run is a fresh process (start-up and TensorFlow's import
count, as they do for a user) with an empty cache.

    .venv/bin/python benchmarks/executor_bench.py [--out PATH] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO_ROOT))

SWEEP_SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
CNN_EPOCHS = 8
CLUSTER_NODES, CLUSTER_CORES = 16, 8
BIG_SWEEP_LAYERS = 50
# the benchmark matrix measured: --quick on its first shape (the whole --quick set takes about
# 6 minutes a mode on 2 busy cores)
BENCH_ARGS = ("--quick", "--shapes", "784x300")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_ray_cluster(cpus: int = 2):
    """ray://127.0.0.1:PORT of a Ray head with `cpus` CPUs started here (`ray start --head
    --block`); on exit its process group, then any daemon left under its temp dir, is ended by
    process id."""
    ray = Path(sys.executable).with_name("ray")
    temp = tempfile.mkdtemp(prefix="esray-", dir="/tmp")  # Ray's socket paths must stay short
    client_port = _free_port()
    cmd = [str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
           f"--port={_free_port()}", f"--ray-client-server-port={client_port}",
           f"--num-cpus={cpus}", "--include-dashboard=false", "--disable-usage-stats",
           f"--temp-dir={temp}"]
    head = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        deadline = time.time() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", client_port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"ray start --head did not come up (status {head.poll()})")
                time.sleep(0.5)
        yield f"ray://127.0.0.1:{client_port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # `ray start --block` stops the head's processes
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        for attempt in range(30):  # daemons the head started outside its process group
            left = _processes_mentioning(temp)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGTERM if attempt < 20 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        shutil.rmtree(temp, ignore_errors=True)


def _processes_mentioning(text: str) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split(None, 1)[0]) for line in out.splitlines() if text in line]


def _train_cnn(path: Path) -> None:
    from toolchain.data import load_dataset
    from toolchain.models import build_model, train

    ds = load_dataset("digits")
    model = build_model("digits_cnn", ds.input_shape, ds.num_classes)
    train(model, ds, epochs=CNN_EPOCHS, verbose=0)
    model.save(path)


def _sweep_child(model_path: str, result_path: str, workers: str, cluster: str) -> None:
    """In a child process: the sweep on the given executor; its outcome as JSON."""
    from toolchain.executor import Executor
    from toolchain.prune.run import load_model_and_data
    from toolchain.prune.sweep import sweep, write_csv

    executor = Executor.from_options(int(workers) if workers != "-" else None,
                                     cluster if cluster != "-" else None)
    model, ds = load_model_and_data(Path(model_path), "digits")
    t = time.perf_counter()
    result = sweep(model, ds, SWEEP_SPARSITIES, structured=False, whole=False, progress=False,
                   executor=executor, cache_dir=False)
    seconds = time.perf_counter() - t
    write_csv(result, Path(result_path).with_suffix(".csv"))
    Path(result_path).write_text(json.dumps({"sweep_seconds": seconds,
                                             "points": len(result.points)}))


def _timed_run(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - t


def measure(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    model = work / "digits_cnn.keras"
    _train_cnn(model)
    runs: dict = {"sweep": {}, "bench_quick": {}}
    with local_ray_cluster(2) as address:
        modes = {"serial": ("1", "-"), "workers_2": ("2", "-"), "ray_2cpu": ("-", address)}
        for mode, (workers, cluster) in modes.items():
            out = work / f"sweep-{mode}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child-sweep", str(model),
                   str(out), workers, cluster]
            wall = _timed_run(cmd, {**env, "EDGESPARSE_CACHE": str(work / f"cache-{mode}")})
            inner = json.loads(out.read_text())
            runs["sweep"][mode] = {"wall_seconds": round(wall, 2),
                                   "sweep_seconds": round(inner["sweep_seconds"], 2),
                                   "units": inner["points"]}
        csvs = {m: (work / f"sweep-{m}.csv").read_bytes() for m in modes}
        runs["sweep_identical"] = len(set(csvs.values())) == 1
        base = [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), *BENCH_ARGS, "--no-doc"]
        # the models are converted once (untimed), then every mode measures every row again
        models = work / "bench-models"
        _timed_run(base + ["--formats", "dense_c", "--results", str(work / "warm.json"),
                           "--work", str(models)], env)
        for mode, (workers, cluster) in modes.items():
            results = work / f"bench-{mode}.json"
            mode_work = work / f"bench-{mode}"
            shutil.rmtree(mode_work, ignore_errors=True)
            shutil.copytree(models / "models", mode_work / "models")
            cmd = base + ["--fresh", "--results", str(results), "--work", str(mode_work)]
            cmd += ["--workers", workers] if cluster == "-" else ["--cluster", cluster]
            wall = _timed_run(cmd, env)
            runs["bench_quick"][mode] = {"wall_seconds": round(wall, 2),
                                         "units": len(json.loads(results.read_text()))}
        benches = {m: (work / f"bench-{m}.json").read_bytes() for m in modes}
        runs["bench_identical"] = len(set(benches.values())) == 1
    return runs


def estimates(runs: dict) -> dict:
    """Wall time on CLUSTER_NODES x CLUSTER_CORES one-thread workers: a fixed start-up cost
    (the 2-CPU Ray sweep's wall time less its share of the points' work: connecting, starting
    workers, importing TensorFlow and loading the model in each) plus one serial unit time per
    wave of units. A sweep unit's time is the serial sweep's per point (the digits CNN's: a
    real model's points cost more); a benchmark row's is the serial run's wall time per row
    (start-up included, so an upper bound). The full benchmark's row count is that of the
    committed benchmarks/results.json; converting its models (cached in WORK/models) is not
    counted."""
    slots = CLUSTER_NODES * CLUSTER_CORES
    sweep = runs["sweep"]
    point = sweep["serial"]["sweep_seconds"] / sweep["serial"]["units"]
    fixed = max(0.0, sweep["ray_2cpu"]["wall_seconds"]
                - point * math.ceil(sweep["ray_2cpu"]["units"] / 2))
    bench = runs["bench_quick"]["serial"]
    row = bench["wall_seconds"] / bench["units"]
    full_rows = len(json.loads((REPO_ROOT / "benchmarks" / "results.json").read_text()))
    out = {"ray_fixed_seconds": round(fixed, 1)}
    for name, per_unit, units in (("full_make_bench", row, full_rows),
                                  ("sweep_50_layers", point,
                                   BIG_SWEEP_LAYERS * len(SWEEP_SPARSITIES) + 1)):
        out[name] = {"units": units, "slots": slots,
                     "serial_seconds_per_unit": round(per_unit, 3),
                     "serial_seconds": round(per_unit * units, 1),
                     "cluster_seconds": round(fixed + per_unit * math.ceil(units / slots), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-sweep"]:
        import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

        _sweep_child(*argv[1:5])
        return 0
    p = argparse.ArgumentParser(prog="benchmarks/executor_bench.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "executor.json")
    p.add_argument("--work", type=Path, default=REPO_ROOT / "build" / "executor-bench")
    p.add_argument("--estimate-only", action="store_true",
                   help="measure nothing: recompute the estimates from --out's measurements")
    args = p.parse_args(argv)
    import toolchain  # noqa: F401

    if args.estimate_only:
        old = json.loads(args.out.read_text())
        runs = {k: old[k] for k in ("sweep", "bench_quick", "sweep_identical", "bench_identical")}
    else:
        runs = measure(args.work)
    for key in ("sweep", "bench_quick"):
        serial = runs[key]["serial"]["wall_seconds"]
        for mode in runs[key].values():
            mode["speedup"] = round(serial / mode["wall_seconds"], 2)
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "note": "shared with other work while measured"},
              "bench_args": list(BENCH_ARGS), "sweep_plan": {"model": "digits_cnn", "epochs": CNN_EPOCHS,
                             "sparsities": list(SWEEP_SPARSITIES), "scope": "each weighted layer alone, magnitude"},
              "worker_threads": 1, **runs,
              "estimate": {"cluster": f"{CLUSTER_NODES} nodes x {CLUSTER_CORES} cores",
                           **estimates(runs)}}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
