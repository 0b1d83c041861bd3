# Developer entry points. `make demo` and `make test` are the README's quick start;
# .ci/run calls `make test`.
PYTHON ?= python3
VENV := .venv
# The PyTorch that scripts/install_torch.sh installs: the CPU build on an x86-64 Linux
# machine without a GPU, else PyPI's; a venv that already has torch keeps its own.
TORCH_SPEC ?= torch==2.13.0
NFLINT_VENV := .venv-nflint

.PHONY: demo test lint setup benchmark clean image image-cpu

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	scripts/install_torch.sh $(VENV)/bin/python '$(TORCH_SPEC)'
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

$(NFLINT_VENV)/.installed: tools/nextflow-lint/requirements.txt
	$(PYTHON) -m venv $(NFLINT_VENV)
	$(NFLINT_VENV)/bin/pip install --quiet -r tools/nextflow-lint/requirements.txt
	touch $@

setup: $(VENV)/.installed $(NFLINT_VENV)/.installed

demo: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python scripts/params_table.py --check

# Every test, the slow end-to-end ones included (plain `pytest` skips those).
test: lint
	$(VENV)/bin/python -m pytest -m "slow or not slow"

benchmark: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/preprocess.py
	$(VENV)/bin/python benchmarks/embedders.py --device cpu

clean:
	rm -rf demo .pytest_cache .ruff_cache

# Container images (containers/README.md), for this machine's architecture, loaded
# into the local Docker image store and tagged with the package version.
VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml)

# CUDA image for GPU servers (NVIDIA driver R580+)
image:
	docker buildx build -f containers/Dockerfile -t virnucpro-nf:$(VERSION) --load .

# CPU image, every task outside -profile gpu (the test profiles included)
image-cpu:
	docker buildx build -f containers/Dockerfile.cpu -t virnucpro-nf-cpu:$(VERSION) --load .
