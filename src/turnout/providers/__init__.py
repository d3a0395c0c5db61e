"""Upstream providers: one module per provider type, looked up through :mod:`registry`."""
