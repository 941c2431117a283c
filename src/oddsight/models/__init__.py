"""Model interfaces, the registry of named model specs, and their backends (imported lazily)."""

from oddsight.models.base import ImageEncoder, TextEncoder
from oddsight.models.registry import ModelSpec, get_spec, list_specs

__all__ = ["ImageEncoder", "ModelSpec", "TextEncoder", "get_spec", "list_specs"]
