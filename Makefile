# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-run

.PHONY: demo test venv lint bench clean dataset demo-source browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

# Full pipeline on the embedded Fashion-MNIST subset (2 CPU cores: 6-10 minutes from a fresh clone), the
# GAN fine-tuned from the embedded garments model (classes the demo does not have; PROVENANCE-fashion-garments.md).
demo: venv
	$(VENV)/bin/ganaug run --builtin fashion-demo --out $(DEMO_OUT) --budget 3m --transfer builtin:fashion-garments

# Headless Chromium renders the HTML report in the browser tests; installed when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium for the report test"; \
	  (apt-get update -q && apt-get install -y -q chromium) >/dev/null 2>&1 || \
	  echo "could not install chromium: browser tests will be skipped"; }

test: venv browser
	OMP_NUM_THREADS=2 $(PY) -m pytest -q --timeout=900

lint: venv
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) bench/bench_train.py

# Rebuild the embedded demo dataset from Debian's dataset-fashion-mnist package.
dataset: venv
	$(PY) scripts/build_demo_dataset.py

# Retrain the embedded transfer source (builtin:fashion-garments) from the same package: about an hour on 2 cores.
demo-source: venv
	$(PY) scripts/build_demo_source.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
