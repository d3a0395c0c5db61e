"""The anthropic wire protocol: see the package docstring of ``turnout.protocols``."""
