"""Language models: llama.cpp GGUF and OpenAI-compatible HTTP backends, deterministic scoring."""
