"""Runs many independent units of work (sweep points, benchmark rows, zoo models) on local
processes or on the tasks of an existing Ray cluster, with the same results either way.

A unit is `fn(shared, *unit.args)`: `fn` a module-level function (workers import it by name),
`shared` one value every unit of the run reads (a model, a dataset: sent to each worker once),
the result a JSON value. Results come back keyed and ordered by the units' names in the order
the caller listed them, never in order of completion, so a run's output does not depend on
the number of workers or on which finished first.

- `workers=1` runs the units one after another in this process; `workers=N` in N spawned
  processes; `cluster="ray://HOST:PORT"` (or RAY_ADDRESS) as Ray tasks of one CPU each.
- A unit with a cache key is looked up in `cache_dir` first and stored there when it completes
  (by this process, whichever machine ran it), so an interrupted run resumes and a cluster
  run's results serve a later local run.
- A unit that raises is run once more; if it fails again the run goes on and the failure is
  reported by the unit's name.
- Workers run TensorFlow with EDGESPARSE_WORKER_THREADS threads (default 1) for its inter- and
  intra-op pools, so N workers on N cores do not oversubscribe them. TensorFlow's float
  reductions depend on the thread count, so it is part of a cached unit's key.

Ray is imported only when a cluster is used.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from toolchain.errors import ToolchainError

REPO_ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
ATTEMPTS = 2  # a failed unit is retried once
CONNECT_ATTEMPTS = 3  # ray.init on a reachable address that failed to start a session


def worker_threads() -> int:
    """TensorFlow threads per worker: EDGESPARSE_WORKER_THREADS, default 1."""
    text = os.environ.get("EDGESPARSE_WORKER_THREADS", "1")
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ToolchainError(f"EDGESPARSE_WORKER_THREADS={text!r}: expected a whole number >= 1")
    return value


def process_threads() -> int:
    """TensorFlow threads of this process (toolchain/__init__ sets them before TF loads)."""
    return int(os.environ.get("TF_NUM_INTRAOP_THREADS") or os.environ.get("EDGESPARSE_THREADS", "2"))


@dataclass(frozen=True)
class Unit:
    name: str  # unique within a run: what progress and failures show, and the result's key
    args: tuple = ()
    key: str | None = None  # cache key (toolchain.cache_key); None: never cached


@dataclass
class Outcome:
    results: dict[str, Any] = field(default_factory=dict)  # unit name -> result, in unit order
    failures: dict[str, str] = field(default_factory=dict)  # unit name -> last error, in unit order
    cached: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # unit name -> run time of its success

    def raise_failures(self, what: str) -> None:
        if self.failures:
            lines = "; ".join(f"{name}: {err}" for name, err in self.failures.items())
            raise ToolchainError(f"{len(self.failures)} {what} failed twice: {lines}")


class Backend(Protocol):
    """Runs submitted units concurrently; `wait` returns finished (token, ok, value, seconds)."""

    slots: int

    def submit(self, token: int, fn: Callable, args: tuple) -> None: ...

    def wait(self) -> list[tuple[int, bool, Any, float]]: ...

    def close(self) -> None: ...


def _timed(fn: Callable, shared, args: tuple):
    t = time.perf_counter()
    try:
        return True, fn(shared, *args), time.perf_counter() - t
    except Exception as exc:  # noqa: BLE001 (reported by unit name; the run goes on)
        return False, f"{type(exc).__name__}: {exc}", time.perf_counter() - t


class _Serial:
    """In this process, one unit at a time."""

    slots = 1

    def __init__(self, shared):
        self.shared = shared
        self.done: list = []

    def submit(self, token, fn, args):
        self.done.append((token, *_timed(fn, self.shared, args)))

    def wait(self):
        done, self.done = self.done, []
        return done

    def close(self):
        pass


_SHARED: Any = None


def _init_process(payload: bytes) -> None:
    global _SHARED
    _SHARED = pickle.loads(payload)


def _call_in_process(fn, args):
    return _timed(fn, _SHARED, args)


class _Processes:
    """N spawned processes (a forked child would inherit TensorFlow's threads and locks)."""

    def __init__(self, shared, workers: int):
        self.slots = workers
        self.futures: dict = {}
        self.payload = pickle.dumps(shared)
        self.broken = False  # a worker died: the pool refuses work until replaced
        self._start()

    def _start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        workers = self.slots
        # spawned children start from this environment: TensorFlow's pools are sized before
        # anything imports it there
        saved = {k: os.environ.get(k) for k in THREAD_VARS}
        threads = str(worker_threads())
        os.environ.update({k: threads for k in THREAD_VARS})
        try:
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_process,
                                            initargs=(self.payload,))
            # start every worker now, under this environment
            list(self.pool.map(_noop, range(workers)))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def submit(self, token, fn, args):
        self.futures[self.pool.submit(_call_in_process, fn, args)] = token

    def wait(self):
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_futures
        from concurrent.futures.process import BrokenProcessPool

        done, _ = wait_futures(list(self.futures), return_when=FIRST_COMPLETED)
        out = []
        for fut in done:
            token = self.futures.pop(fut)
            try:
                out.append((token, *fut.result()))
            except Exception as exc:  # noqa: BLE001 (the worker died: BrokenProcessPool, ...)
                self.broken = self.broken or isinstance(exc, BrokenProcessPool)
                out.append((token, False, f"{type(exc).__name__}: {exc}", 0.0))
        if self.broken:  # a worker died (killed, out of memory): every unit in flight is lost
            for fut in list(self.futures):
                token = self.futures.pop(fut)
                try:
                    out.append((token, *fut.result()))
                except Exception as exc:  # noqa: BLE001
                    out.append((token, False, f"{type(exc).__name__}: {exc}", 0.0))
            self.pool.shutdown(wait=True)
            self._start()  # a new pool for the retries and the rest
            self.broken = False
        return out

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def _noop(_):
    return None


_RAY_SHARED: dict[str, Any] = {}


def run_pickled(shared_ref_bytes: bytes, digest: str, payload: bytes):
    """A Ray task's body, in the worker: the shared value (unpickled once per worker and run),
    then the unit."""
    if digest not in _RAY_SHARED:
        _RAY_SHARED.clear()
        _RAY_SHARED[digest] = pickle.loads(shared_ref_bytes)
    fn, args = pickle.loads(payload)
    return _timed(fn, _RAY_SHARED[digest], args)


def _tree_paths() -> list[str]:
    """This source tree's entries of sys.path (the tree itself first), for the workers."""
    paths = [str(REPO_ROOT)]
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if (path == REPO_ROOT or REPO_ROOT in path.parents) and str(path) not in paths:
            paths.append(str(path))
    return paths


def _ray_task():
    """The function Ray ships to its workers, by value: it puts this source tree first on the
    worker's path and unpickles the unit there, so neither Ray's client server nor a worker
    needs edgesparse importable before the task runs (an installed one serves on other nodes)."""
    def edgesparse_unit(roots, shared_bytes, digest, payload):
        import sys

        for root in reversed(roots):
            if root not in sys.path:
                sys.path.insert(0, root)
        from toolchain.executor import run_pickled

        return run_pickled(shared_bytes, digest, payload)

    return edgesparse_unit


class _Ray:
    """Tasks of one CPU each on an existing Ray cluster."""

    def __init__(self, shared, address: str, workers: int | None):
        import hashlib

        self.ray = connect_ray(address)
        self.address = address
        self.remote = self.ray.remote(num_cpus=1, max_retries=0)(_ray_task())
        data = pickle.dumps(shared)
        self.digest = hashlib.sha256(data).hexdigest()
        self.shared_ref = self.ray.put(data)
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.slots = workers or max(1, cpus)
        self.refs: dict = {}
        self.roots = _tree_paths()

    def submit(self, token, fn, args):
        ref = self.remote.remote(self.roots, self.shared_ref, self.digest,
                                 pickle.dumps((fn, args)))
        self.refs[ref] = token

    def wait(self):
        ready, _ = self.ray.wait(list(self.refs), num_returns=1)
        out = []
        for ref in ready:
            token = self.refs.pop(ref)
            try:
                out.append((token, *self.ray.get(ref)))
            except Exception as exc:  # noqa: BLE001 (the task's worker or node died)
                out.append((token, False, f"{type(exc).__name__}: {exc}", 0.0))
        return out

    def close(self):
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        self.ray.shutdown()


def connect_ray(address: str):
    """ray, connected to the cluster at `address` (ray://HOST:PORT, or HOST:PORT from a node of
    the cluster), quietly; a ToolchainError naming the address if it cannot be reached."""
    import logging

    from toolchain import quiet

    try:
        with quiet.silenced():
            import ray
    except ImportError:
        raise ToolchainError(f"--cluster {address}: the 'ray' package is not installed "
                             "(pip install 'ray>=2.40,<3')") from None
    threads = str(worker_threads())
    env = {k: threads for k in THREAD_VARS}
    env.update({k: os.environ[k] for k in ("EDGESPARSE_VERBOSE", "EDGESPARSE_THREADS")
                if k in os.environ})
    _check_reachable(address)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            with quiet.silenced():
                ray.init(address=address, logging_level=logging.ERROR,
                         log_to_driver=quiet.VERBOSE, runtime_env={"env_vars": env},
                         ignore_reinit_error=True)
            break
        except Exception as exc:  # noqa: BLE001 (ConnectionError, RuntimeError, ValueError...)
            # The port answers but the server could not start this client's session yet (a
            # head that has just come up on a busy machine says "Initialization failure from
            # server"): try again a few times before giving up.
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            with quiet.silenced():
                ray.shutdown()
            if attempt + 1 < CONNECT_ATTEMPTS:
                time.sleep(2.0 * (attempt + 1))
    else:
        raise ToolchainError(
            f"cannot reach the Ray cluster at {address} ({detail}): start one with "
            "`ray start --head` and pass its address (ray://HOST:10001) to --cluster or "
            "RAY_ADDRESS, or leave both unset to run on local processes") from None
    for name in ("ray", "ray.util.client", "ray.util.client.worker", "ray.util.client.dataclient",
                 "ray.util.client.logsclient"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fails in seconds on an address nothing listens at (ray.init would wait 30 s)."""
    import socket

    hostport = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ToolchainError(f"cluster address {address!r}: expected ray://HOST:PORT (or HOST:PORT "
                             "on a node of the cluster)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ToolchainError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): start one with "
            "`ray start --head` and pass its address (ray://HOST:10001) to --cluster or "
            "RAY_ADDRESS, or leave both unset to run on local processes") from None


def cluster_address(cluster: str | None) -> str | None:
    """--cluster, else RAY_ADDRESS, else None (local processes)."""
    address = cluster if cluster is not None else os.environ.get("RAY_ADDRESS")
    if address is not None and not address.strip():
        return None
    if address is not None and ":" not in address:
        raise ToolchainError(f"cluster address {address!r}: expected ray://HOST:PORT (or HOST:PORT "
                             "on a node of the cluster)")
    return address


@dataclass(frozen=True)
class Executor:
    """Where units run: `workers` local processes (1: this process), or a Ray cluster."""

    workers: int = 1
    cluster: str | None = None

    @classmethod
    def from_options(cls, workers: int | None = None, cluster: str | None = None) -> "Executor":
        """--workers and --cluster as given (None: not given; RAY_ADDRESS stands for --cluster);
        a cluster address nothing listens at is refused here."""
        if workers is not None and workers < 1:
            raise ToolchainError(f"--workers {workers}: expected at least 1")
        address = cluster_address(cluster)
        if address is not None:
            _check_reachable(address)  # before any work: a wrong address fails at once
            return cls(workers or 0, address)
        return cls(workers or 1, None)

    def threads(self) -> int:
        """TensorFlow threads the units run with (it changes float results: part of their keys)."""
        return process_threads() if self.cluster is None and self.workers == 1 else worker_threads()

    def describe(self) -> str:
        if self.cluster:
            return f"Ray cluster {self.cluster}"
        return "this process" if self.workers == 1 else f"{self.workers} local processes"

    def run(self, fn: Callable, units: list[Unit], shared=None, *, cache_dir: Path | None = None,
            desc: str = "units", progress: bool = True) -> Outcome:
        names = [u.name for u in units]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ToolchainError(f"{desc}: unit names must be unique, repeated: {', '.join(dup)}")
        outcome = Outcome()
        found: dict[str, Any] = {}
        todo = []
        for u in units:
            hit = _cache_read(cache_dir, u) if cache_dir is not None else None
            if hit is not None:
                found[u.name] = hit[0]
            else:
                todo.append(u)
        outcome.cached = len(found)
        done: dict[str, Any] = dict(found)
        failed: dict[str, str] = {}
        bar = _Progress(desc, len(units), len(found), progress)
        if todo:
            backend = self._backend(shared, len(todo))
            try:
                attempts = {i: 0 for i in range(len(todo))}
                queue = list(range(len(todo)))
                running = 0
                while queue or running:
                    while queue and running < backend.slots:
                        i = queue.pop(0)
                        attempts[i] += 1
                        backend.submit(i, fn, todo[i].args)
                        running += 1
                    for i, ok, value, seconds in backend.wait():
                        running -= 1
                        u = todo[i]
                        if ok:
                            value = _as_json(value, u.name)
                            done[u.name] = value
                            outcome.seconds[u.name] = seconds
                            if cache_dir is not None and u.key is not None:
                                _cache_write(cache_dir, u, value)
                            bar.update(ok=True)
                        elif attempts[i] < ATTEMPTS:
                            queue.append(i)
                        else:
                            failed[u.name] = value
                            bar.update(ok=False, failed=u.name)
            finally:
                backend.close()
                bar.close()
        else:
            bar.close()
        outcome.results = {n: done[n] for n in names if n in done}
        outcome.failures = {n: failed[n] for n in names if n in failed}
        outcome.seconds = {n: outcome.seconds[n] for n in names if n in outcome.seconds}
        return outcome

    def _backend(self, shared, count: int) -> Backend:
        if self.cluster:
            return _Ray(shared, self.cluster, self.workers or None)
        if self.workers == 1:
            return _Serial(shared)
        return _Processes(shared, min(self.workers, count))


_DEFAULT: Executor | None = None


def configure(executor: Executor | None) -> None:
    """The executor work deep inside a stage uses when its caller passes none (the CLI sets
    it from --workers/--cluster for `compile`, whose --auto-sparsity sweep runs in the
    pipeline); None: this process."""
    global _DEFAULT
    _DEFAULT = executor


def configured() -> Executor:
    return _DEFAULT or Executor()


def _as_json(value, name: str):
    """The value as JSON gives it back (tuples as lists...), so a result read from the cache
    and one just computed are the same value."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ToolchainError(f"unit {name}: its result is not JSON ({exc})") from None


def _cache_read(cache_dir: Path, unit: Unit):
    """(result,) from cache_dir/<key>.json, or None (no key, no file, unreadable, or null)."""
    if unit.key is None:
        return None
    try:
        value = json.loads((Path(cache_dir) / f"{unit.key}.json").read_text())
    except (OSError, ValueError):
        return None
    return None if value is None else (value,)


def _cache_write(cache_dir: Path, unit: Unit, value) -> None:
    """The result as the file's whole content (a list one item a line), written atomically."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{unit.key}.json"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(value, indent=1) + "\n")
    tmp.replace(path)


class _Progress:
    """done/total, failures and an ETA on stderr (tqdm; off when stderr is not a terminal)."""

    def __init__(self, desc: str, total: int, cached: int, enabled: bool):
        from tqdm import tqdm

        self.failures = 0
        self.bar = tqdm(total=total, initial=cached, desc=desc, unit="unit", file=sys.stderr,
                        disable=None if enabled else True, leave=False, smoothing=0.1)
        self.bar.set_postfix_str("0 failed", refresh=False)

    def update(self, ok: bool, failed: str | None = None) -> None:
        if not ok:
            self.failures += 1
            self.bar.set_postfix_str(f"{self.failures} failed (last: {failed})", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def add_options(parser, what: str = "units") -> None:
    """--workers and --cluster, as every command that runs many units spells them."""
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help=f"run the {what} on N local processes (default 1: in this process); "
                             "each runs TensorFlow on EDGESPARSE_WORKER_THREADS threads (default 1)")
    parser.add_argument("--cluster", default=None, metavar="ray://HOST:PORT",
                        help=f"run the {what} as tasks on this Ray cluster (default: RAY_ADDRESS "
                             "if set, else local processes); results are the same either way")
