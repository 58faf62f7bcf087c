"""Runnable benchmarks of the provider against the official OpenAI provider and raw httpx."""
