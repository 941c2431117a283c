"""The language pipeline: captions (made here or brought along) -> LLM scores with reasons."""
