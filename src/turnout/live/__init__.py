"""Live configuration: reload the config file (and, with storage, the providers and models
kept in the database) into a running gateway without a restart (docs/configuration.md#live-
configuration).

- :mod:`~turnout.live.source` rebuilds the config the way ``turnout serve`` first built it;
- :mod:`~turnout.live.swap` compiles a whole generation (providers, health board, router)
  beside the serving one, carrying state over, then swaps it in with one assignment;
- :mod:`~turnout.live.reloader` serialises reloads, keeps the version and the last error;
- :mod:`~turnout.live.watch` watches the file; :mod:`~turnout.live.workers` lets
  ``--workers N`` processes agree and report their versions.
"""
