"""Outputs of a detection: JSON (versioned schema), events CSV, PNG plot, annotated video."""

from oddsight.report.files import result_to_dict, write_events_csv, write_json

__all__ = ["result_to_dict", "write_events_csv", "write_json"]
