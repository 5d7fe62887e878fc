# edgesparse developer entry points.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap demo test bench clean

bootstrap:
	scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/edgesparse demo --out out/demo

test: bootstrap
	$(PY) -m pytest -q

bench: bootstrap
	@if [ -f benchmarks/run.py ]; then $(PY) benchmarks/run.py; \
	else echo "no benchmarks yet (benchmarks/run.py does not exist)"; fi

clean:
	rm -rf out build tests/_work .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
