"""Switchyard: a fast, faithful LLM gateway."""
