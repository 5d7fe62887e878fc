# edgesparse developer entry points.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap demo test bench compression zoo fuzz clean

bootstrap:
	scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/edgesparse demo --out out/demo

test: bootstrap
	$(PY) -m pytest -q

bench: bootstrap
	@if [ -f benchmarks/run.py ]; then $(PY) benchmarks/run.py; \
	else echo "no benchmarks yet (benchmarks/run.py does not exist)"; fi

compression: bootstrap
	$(PY) benchmarks/compression.py

# every zoo model dense and pruned, host and QEMU; writes out/zoo, docs/ZOO.md (--docs) and
# benchmarks/zoo.json (the committed figures `make docs` renders)
zoo: bootstrap
	$(VENV)/bin/edgesparse zoo --out out/zoo --docs docs/ZOO.md
	cp out/zoo/zoo.json benchmarks/zoo.json

# libFuzzer over every target for FUZZ_SECONDS each (default 600); crashes in build/fuzz/artifacts
fuzz: bootstrap
	$(PY) tests/fuzz/es_fuzz_driver.py $(or $(FUZZ_SECONDS),600)

clean:
	rm -rf out build tests/_work .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
