"""Talking to language models: the client, its cache, accounting, and the bundled local model."""
