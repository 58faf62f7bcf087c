"""Hooks of the provider."""

from __future__ import annotations

from airflow_provider_openai_fusion.hooks.openai_fusion import OpenAIFusionHook

__all__ = ["OpenAIFusionHook"]
