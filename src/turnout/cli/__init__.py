"""The ``turnout`` command line."""
