"""Methods: one record each (:mod:`oddsight.methods.registry`) and their incremental scorers."""
