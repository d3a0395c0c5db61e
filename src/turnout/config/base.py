"""The base of every model of ``turnout.yaml``.

Closed on purpose (``extra="forbid"``): a typo in a gateway config silently routing traffic
somewhere else is worse than a refusal to start. Frozen, so one shared default instance is safe.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
