# edgesparse developer entry points.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap demo test test-all bench bench-models ram pruned-models entropy-csr pruned-accuracy compression finetune compress-max zoo pruning field code-size docs fuzz clean

bootstrap:
	scripts/bootstrap.sh

# the demo; its figures (out/demo/demo.json) become benchmarks/demo.json, which README renders
demo: bootstrap
	$(VENV)/bin/edgesparse demo --out out/demo
	cp out/demo/demo.json benchmarks/demo.json

# the fast tier (at most 8 minutes on 2 cores): every op, format, the importer, the CLI's errors,
# one QEMU run per ISA class; `-rs` names every skip's reason
test: bootstrap
	$(PY) -m pytest -q -rs -m "not slow"

# everything: the fast tier and the slow one (zoo, board projects, pruning accuracy, end to
# end, fuzzing campaigns, the other random op cases); what CI runs
test-all: bootstrap
	$(PY) -m pytest -q -rs --durations=15

# the kernel benchmark (benchmarks/run.py; rows cached in build/bench/rows): on 2 local processes,
# or on a Ray cluster with RAY_ADDRESS=ray://HOST:PORT (README 'Running sweeps on a cluster')
bench: bootstrap
	@if [ -f benchmarks/run.py ]; then $(PY) benchmarks/run.py; \
	else echo "no benchmarks yet (benchmarks/run.py does not exist)"; fi

# whole models (field models, the zoo's MLPerf Tiny architectures), all dense, on our kernels and
# on CMSIS-NN's, on mps2-an386/an500/an505/an385: benchmarks/models.json and docs/MODELS.md.
# FIELD_MODELS_DIR and CMSIS_NN_DIR as for `make field` / `make bench`; rows are cached in
# build/bench-models, so a rerun measures only what changed. BENCH_MODELS_ARGS passes options
# (e.g. --quick, --models ad01_int8 --boards mps2-an386)
bench-models: bootstrap
	$(PY) benchmarks/bench_models.py $(if $(FIELD_MODELS_DIR),--field-models $(FIELD_MODELS_DIR)) $(BENCH_MODELS_ARGS)

# issue 22: peak RAM (arena + stack measured by painting + runtime state) of the bench-models
# models on mps2-an386, without and with in-place layers: benchmarks/ram.json and docs/RAM.md
# (FIELD_MODELS_DIR as for make bench-models)
ram: bootstrap
	$(PY) benchmarks/ram.py $(if $(FIELD_MODELS_DIR),--field-models $(FIELD_MODELS_DIR))

# issue 19: the zoo's MLPerf Tiny architectures pruned to 50/80/90% (every weighted layer),
# compiled --optimize speed, run in QEMU on mps2-an386: benchmarks/pruned_models.json, rendered
# into docs/MODELS.md beside make bench-models' dense rows (then run make docs)
pruned-models: bootstrap
	$(PY) benchmarks/pruned_models.py

# issue 20: the same pruned models (80 and 90%, weights not shared) compiled --optimize size
# without and with --huffman (csr8+huffman), run in QEMU, against gzip -9 of the .tflite:
# benchmarks/entropy_csr.json, rendered into docs/COMPRESSION.md (then run make docs)
entropy-csr: bootstrap
	$(PY) benchmarks/entropy_csr.py

# the same architectures trained on the zoo's data, pruned to 50/80/90% of every weighted layer
# with compile's recovering fine-tune, scored int8 on a held-out test split and run in QEMU
# (about 50 min): benchmarks/pruned_accuracy.json, rendered into docs/MODELS.md (make docs);
# after a runtime change, `.venv/bin/python benchmarks/pruned_accuracy.py --remeasure` measures
# the saved pruned models again in minutes, keeping their scores
pruned-accuracy: bootstrap
	$(PY) benchmarks/pruned_accuracy.py

compression: bootstrap
	$(PY) benchmarks/compression.py

finetune: bootstrap
	$(PY) benchmarks/finetune.py

compress-max: bootstrap
	$(PY) benchmarks/compress_max.py --qemu

# every zoo model dense and pruned, host and QEMU; writes out/zoo, docs/ZOO.md (--docs) and
# benchmarks/zoo.json (the committed figures `make docs` renders)
zoo: bootstrap
	$(VENV)/bin/edgesparse zoo --out out/zoo --docs docs/ZOO.md
	cp out/zoo/zoo.json benchmarks/zoo.json

# whole-firmware .text of the demo, zoo and field models under each --code-opt level (needs the
# outputs of make demo and make zoo): benchmarks/code_size.json and docs/CODE_SIZE.md
code-size: bootstrap
	$(PY) benchmarks/code_size.py

# accuracy of both demo models under every pruning method (about 20 min): benchmarks/pruning_accuracy.json
pruning: bootstrap
	$(PY) scripts/pruning_accuracy.py

# published int8 .tflite models compiled as shipped, host + QEMU, verified: benchmarks/field.json
# and docs/FIELD.md; FIELD_MODELS_DIR (default ../shared/field-models if present, else a skip)
field: bootstrap
	$(PY) benchmarks/field.py $(FIELD_MODELS_DIR)

# every table and figure of README.md and docs/*.md from the committed JSON in benchmarks/
# (no measuring; `scripts/render_docs.py --check` tells whether they agree)
docs: bootstrap
	$(PY) scripts/render_docs.py

# libFuzzer over every target for FUZZ_SECONDS each (default 600); crashes in build/fuzz/artifacts
fuzz: bootstrap
	$(PY) tests/fuzz/es_fuzz_driver.py $(or $(FUZZ_SECONDS),600)

clean:
	rm -rf out build tests/_work .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
