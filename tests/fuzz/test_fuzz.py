"""libFuzzer runs of the runtime's validator and kernels under ASan and UBSan (es_fuzz_driver.py).

Each target runs a fixed number of executions per variant (ES_FUZZ_RUNS, default 4000) from a
fixed libFuzzer seed, so a run repeats exactly; ES_FUZZ_JOBS targets at a time (default 2).
Executions and seconds per target are printed and merged into build/fuzz/summary.json. The
long time-based campaign is `make fuzz` (FUZZ_SECONDS per target).
"""
import os
import struct
from concurrent.futures import ThreadPoolExecutor

import pytest

import es_fuzz_driver as drv
from requires import needs  # noqa: E402

pytestmark = [pytest.mark.fuzz,
              needs(drv.CC)]

TARGETS = drv.targets()
TARGET_NAMES = [t.name for t in TARGETS]


def test_every_weight_format_has_a_target_with_seeds():
    from toolchain.encode.format import WeightFormat
    from toolchain.plan.select import ENCODERS

    fuzzed = {t.format_name for t in TARGETS if t.format_name}
    assert fuzzed == set(ENCODERS)
    # every runtime weight format is reached by some encoder, hence some target
    assert {int(e.FORMAT) for e in ENCODERS.values()} == \
        {int(f) for f in WeightFormat if f != WeightFormat.NONE}
    for t in TARGETS:
        seeds = list(drv.seed_dir(t).iterdir())
        assert len(seeds) >= 2, t.name


def test_committed_corpus_is_small():
    files = [f for f in drv.CORPUS.rglob("*") if f.is_file()]
    assert files and sum(f.stat().st_size for f in files) < 1_000_000
    assert max(f.stat().st_size for f in files) < 8 * 1024


def test_all_ops_seed_has_every_op():
    """The committed all_ops seed holds a layer of each op make_corpus.all_ops_layers() names
    (make_corpus checks the same when it rebuilds the seed), so the model target's mutations
    start from every kernel's params."""
    import make_corpus

    ops = set(make_corpus.blob_layer_ops((drv.CORPUS / "model" / "all_ops").read_bytes()))
    assert make_corpus.all_ops_layers() <= ops, sorted(o.name for o in make_corpus.all_ops_layers() - ops)


@pytest.mark.parametrize("variant", list(drv.VARIANTS))
@pytest.mark.parametrize("name", TARGET_NAMES)
def test_every_seed_is_a_valid_model(name, variant, monkeypatch):
    """The harness aborts (ES_FUZZ_EXPECT_OK=1) on a seed es_model_init rejects: seeds that
    no longer match the blob layout would leave the fuzzer stuck at the first check."""
    monkeypatch.setenv("ES_FUZZ_EXPECT_OK", "1")
    target = drv.target_by_name(name)
    proc = drv.replay(target, drv.seed_dir(target), variant)
    assert proc.returncode == 0, proc.stderr[-3000:]


REGRESSION_TARGETS = sorted(d.name for d in drv.REGRESSIONS.iterdir() if d.is_dir())


@pytest.mark.parametrize("variant", list(drv.VARIANTS))
@pytest.mark.parametrize("name", REGRESSION_TARGETS)
def test_fixed_defects_stay_fixed(name, variant):
    """Inputs that crashed the runtime before a fix (signed overflow in kernels' accumulators,
    pooling windows outside the input) now run clean under ASan + UBSan."""
    proc = drv.replay(drv.target_by_name(name), drv.REGRESSIONS / name, variant)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_replay_detects_a_rejected_table(tmp_path, monkeypatch):
    """The check above can fail: a CSR8 table whose first delta walks past the last column."""
    target = drv.target_by_name("format_csr8")
    seed = bytearray((drv.seed_dir(target) / "edges").read_bytes())
    k = drv._format_constants()
    index_offset = struct.unpack_from("<I", seed, 16)[0] - k["FUZZ_TABLE_OFFSET"]
    seed[index_offset] = 255  # row 0 holds cols 0 and 299: 255 + 255 > 299
    seed[index_offset + 1] = 255
    (tmp_path / "bad").write_bytes(bytes(seed))
    assert drv.replay(target, tmp_path).returncode == 0
    monkeypatch.setenv("ES_FUZZ_EXPECT_OK", "1")
    assert drv.replay(target, tmp_path).returncode != 0


def _jobs() -> int:
    return max(1, int(os.environ.get("ES_FUZZ_JOBS", "2")))


@pytest.fixture(scope="module")
def fuzz_results():
    runs = drv.default_runs()
    for t in TARGETS:  # build serially: the runtime library is shared between targets
        for variant in drv.VARIANTS:
            drv.build(t, variant)
    with ThreadPoolExecutor(_jobs()) as pool:
        results = dict(zip(TARGET_NAMES, pool.map(lambda ti: drv.run(ti[1], runs=runs, seed=1 + ti[0]),
                                                  enumerate(TARGETS))))
    drv.save_summary(list(results.values()))
    for r in results.values():
        print(f"fuzz {r.target:34s} {r.executions:>10,d} executions {r.seconds:6.1f} s "
              f"{r.corpus_files:5d} corpus files crashes: {r.crashes or 'none'}")
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", TARGET_NAMES)
def test_fuzz_target_finds_nothing(fuzz_results, name):
    r = fuzz_results[name]
    assert not r.crashes, f"{name}: {r.crashes} (inputs in {drv.BUILD / 'artifacts' / name})\n{r.log_tail}"
    assert r.executions >= drv.default_runs() * len(drv.VARIANTS)
