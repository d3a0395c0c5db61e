"""Turnout: a fast, faithful LLM gateway."""
