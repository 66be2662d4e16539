# Everything installs through this file: a fresh clone needs only python3 (>= 3.9).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all integration bench bench-full bench-levers bench-serve lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,serve,tensorboard,export,names]'
	touch $(STAMP)

demo: $(STAMP)  ## train ResNet-18 on the embedded digits and print the test accuracy
	$(BIN)/trainlab demo

test: $(STAMP)  ## the offline unit + end-to-end suite (CPU, a few minutes)
	$(BIN)/python -m pytest -q -m "not integration"

integration: $(STAMP)  ## real-data checks: scikit-learn digits, Fashion-MNIST (apt: dataset-fashion-mnist)
	$(BIN)/python -m pytest -q -m integration

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## side-by-side speed vs the course-style loop (short mode, < 2 min)
	$(BIN)/python benchmarks/bench_training.py

bench-full: $(STAMP)  ## longer runs + time to accuracy (3 seeds); writes benchmarks/RESULTS.md
	$(BIN)/python benchmarks/bench_training.py --full --write

bench-levers: $(STAMP)  ## each CPU speed lever (precision, layout, single-pixel convolutions, trimmed taps) on ResNet-18, with a profile
	$(BIN)/python benchmarks/bench_cpu_levers.py

bench-serve: $(STAMP)  ## load test of trainlab serve on loopback: 8 clients, 2,000 requests
	$(BIN)/python benchmarks/bench_serve.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
