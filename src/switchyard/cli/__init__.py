"""The ``switchyard`` command line."""
