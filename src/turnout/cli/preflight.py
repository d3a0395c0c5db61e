"""What the environment makes of a valid config, read before anything starts.

The schema checks the file; the environment can still override the master key and the
database URL, a URL can name a backend the gateway has no driver for, and the key that seals
stored provider credentials may be malformed (it is read only when one is first stored).
Found only when the app was built, such a value ended the start in a traceback (in every
worker, with ``--workers``), or not at all until an operator stored a credential; found here
it is one plain line among the config's problems, exit code 2, from ``serve`` and ``check``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from turnout.config.schema import TurnoutConfig

MASTER_MIN = 16  # the schema's floor for ``auth.master_key``
# Below these a master key is warned about: it answers on every route (the admin API and
# /v1), and only the dashboard's sign-in bounds the guesses an address may make.
MASTER_GOOD_LENGTH = 24
MASTER_GOOD_VARIETY = 10  # distinct characters


def startup_problems(cfg: TurnoutConfig, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Every problem found, each prefixed by the setting that holds it (values never shown:
    they may be secrets)."""
    from turnout.auth.build import MASTER_ENV
    from turnout.crypto import ENV as SECRET_ENV
    from turnout.crypto import SecretBox, SecretKeyError
    from turnout.storage.backends import backend_for
    from turnout.storage.sql.engine import ENV as DATABASE_ENV
    from turnout.storage.sql.engine import database_url

    problems: list[str] = []
    key = environ.get(MASTER_ENV)
    if key and len(key) < MASTER_MIN:
        problems.append(f"{MASTER_ENV}: the master key must be at least {MASTER_MIN} characters")
    try:
        SecretBox.from_env(environ)  # used only once a credential is stored: check it now
    except SecretKeyError as exc:
        text = str(exc)
        problems.append(text if text.startswith(SECRET_ENV) else f"{SECRET_ENV}: {text}")
    if cfg.storage.enabled:
        url = database_url(cfg.storage, environ)
        problem = backend_for(url).problem(url)
        if problem is not None:
            where = DATABASE_ENV if environ.get(DATABASE_ENV) else "storage.url"
            problems.append(f"{where}: {problem}")
    return problems


def startup_warnings(cfg: TurnoutConfig, environ: Mapping[str, str] = os.environ) -> list[str]:
    """What starts but should be changed: a master key that looks chosen rather than random
    (short, or few distinct characters; the key itself is never shown), and limits counted
    by each of several workers on its own."""
    from turnout.auth.build import MASTER_ENV

    warnings: list[str] = []
    key = environ.get(MASTER_ENV) or cfg.auth.master_key
    where = MASTER_ENV if environ.get(MASTER_ENV) else "auth.master_key"
    if key and (len(key) < MASTER_GOOD_LENGTH or len(set(key)) < MASTER_GOOD_VARIETY):
        warnings.append(
            f"{where}: the master key looks guessable ({len(key)} characters, "
            f"{len(set(key))} distinct); every route answers it, and only the dashboard's "
            "sign-in bounds tries. Use a random one: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )
    workers = cfg.server.workers
    if workers > 1 and cfg.limits.backend == "memory":
        warnings.append(
            f"{workers} workers with limits.backend: memory: each worker counts the limits of "
            f"gateway keys and teams on its own (rpm, tpm, max_parallel, budgets), so a key "
            f"may get up to {workers} times its limits; set limits.backend: redis for one "
            "count shared by every worker"
        )
    return warnings
