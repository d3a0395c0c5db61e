"""Responses API conversation state the upstream cannot hold (docs/protocols.md §6.6)."""
