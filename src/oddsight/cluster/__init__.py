"""Scale-out front ends (``--ray``). Only ``ray_runner`` imports ray, and only the CLI imports it."""
