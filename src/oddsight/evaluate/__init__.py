"""Evaluation on standard benchmarks: dataset readers, metrics, the evaluation loop, plots."""
