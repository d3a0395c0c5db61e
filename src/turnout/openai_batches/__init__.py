"""OpenAI's Batch API through the gateway: batch files and batches (docs/openai-batches.md)."""
