"""Anthropic Message Batches through the gateway (docs/batches.md)."""
