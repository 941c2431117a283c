"""The ``oddsight`` command line. Thin: it parses options and calls the library, one module per command.

Nothing heavy (numpy, onnxruntime, torch) is imported at start-up; each command imports what it uses.
"""

from oddsight.cli import detect, evaluate, fit, models, serve, watch  # noqa: F401  (each registers its command)
from oddsight.cli.app import app, main

__all__ = ["app", "main"]
