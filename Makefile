# The targets a user types. Each installs what it needs (Debian packages, PyPI packages) and is
# quick when nothing changed.
#   make run     the main job
#   make test    every suite: Swift, C (CTest), Python (pytest)
#   make bench   the benchmarks, each beside its anchors
#   make build   libvoicecore, the C programs, the Python package's copy of the library

PYTHON ?= python3
BUILD  ?= build
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
export PYTHONPATH := $(CURDIR)/python$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: all build deps test test-swift test-c test-python run bench clean llm

all: build

deps:
	@scripts/ensure-deps.sh apt

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j2
	@mkdir -p python/voicecore/_lib
	@cp -u $(BUILD)/lib/libvoicecore.so python/voicecore/_lib/libvoicecore.so

# pytest runs last, so the closing line of `make test` is its summary.
test: build
	@scripts/ensure-deps.sh python test
	@$(MAKE) --no-print-directory test-swift test-c test-asan test-fuzz test-python

test-swift:
	swift test

test-c:
	ctest --test-dir $(BUILD) --output-on-failure

test-python:
	$(PYTHON) -m pytest -q Tests/python

# make run = voicecore up: the daemon, the default workers and the embedded LLM (installed once by
# scripts/install-llm.sh; without it `voicecore up` says so and answers from its knowledge base).
# Flags for voicecore up: make run ARGS="--no-llm --port 9000" (voicecore up --help lists them).
run: build
	@scripts/ensure-deps.sh python run
	@scripts/install-llm.sh || true
	$(PYTHON) -m voicecore up $(ARGS)

bench: build
	@scripts/ensure-deps.sh python bench
	$(PYTHON) Benchmarks/run.py

clean:
	rm -rf $(BUILD) .build python/voicecore/_lib

# --- voicecored (the daemon): sanitizers and fuzzing --------------------------------------------
#   make test-asan   the C tests and the daemon's integration tests, C code built with ASan+UBSan
#   make fuzz        every libFuzzer target of the daemon's network parsers, 2 minutes each
ASAN_BUILD ?= build-asan
.PHONY: test-asan test-fuzz fuzz

test-asan: build
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVOICECORE_SANITIZE=ON \
	  -DVOICECORE_PREBUILT_LIB=$(CURDIR)/$(BUILD)/lib/libvoicecore.so >/dev/null
	@cmake --build $(ASAN_BUILD) -j2
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  VOICECORED_BIN=$(CURDIR)/$(ASAN_BUILD)/Sources/voicecored/voicecored $(PYTHON) -m pytest -q Tests/python -k daemon

test-fuzz:
	@Tests/fuzz/run.sh 3

fuzz:
	@Tests/fuzz/run.sh 120

# Simulator: the long soak (the CI-sized sweep runs in `make test`, Tests/python/test_simulator.py).
.PHONY: sim-soak
sim-soak: build
	$(PYTHON) -m voicecore sim --seed 42 --devices 50 --workers asr=3,assistant=2,tts=4,gpu=2 --duration 30d --faults harsh
	$(PYTHON) -m voicecore sim --seeds 1..1000 --devices 50 --duration 1d --faults harsh
	$(PYTHON) -m voicecore sim --seeds 1..200 --devices 50 --duration 6h --faults harsh --liveness

# --- voicecore up --------------------------------------------------------------------------------
#   make llm     installs the embedded LLM only (llama-cpp-python, compiled once, and SmolLM2's GGUF)
llm:
	@scripts/install-llm.sh
