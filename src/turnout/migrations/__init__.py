"""Alembic migrations of the gateway's database (``turnout db upgrade``; applied on start).

Configured in code (:func:`turnout.storage.sql.engine.alembic_config`) rather than by an
``alembic.ini``, so an installed package migrates itself. New revisions go in ``versions/``,
named ``YYYY_MM_DD_HHMM-<rev>_<slug>.py``; constraint names follow the naming convention of
:mod:`turnout.storage.sql.tables`.
"""
