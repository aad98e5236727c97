# Quick start: `make demo` runs the demo study, `make test` runs every test.
# Both create .venv with the project installed when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores 2 --configfile config/demo.yaml --quiet rules
	$(BIN)/snakemake --cores 2 --configfile config/demo.yaml --report results/report.html
	@echo "Report:  $(CURDIR)/results/report.html"
	@echo "Summary: $(CURDIR)/results/summary.md"

test: $(STAMP)
	$(BIN)/pytest -q --durations=15

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --cores 1

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks workflow/scripts
	$(BIN)/ruff check --fix src tests benchmarks workflow/scripts
	$(BIN)/snakefmt Snakefile rules

clean:
	rm -rf results logs .snakemake data/simulated
