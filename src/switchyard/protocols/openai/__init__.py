"""The openai wire protocol: see the package docstring of ``switchyard.protocols``."""
