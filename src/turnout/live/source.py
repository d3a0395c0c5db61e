"""Where a running gateway's config comes from, so a reload builds it the same way again.

``turnout serve`` builds its config from the file and the command line (``--demo``,
``--base-url``, ``--port``…). A reload must apply the same command-line choices over the
edited file, or a reload would silently drop ``--demo`` or move the port in the config it
reports. :class:`ConfigSource` records those choices; it is plain data so ``--workers N``
can hand it to every worker through the environment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from turnout.config.schema import TurnoutConfig

SOURCE_ENV = "TURNOUT_CONFIG_SOURCE"


@dataclass(frozen=True, slots=True)
class ConfigSource:
    path: str | None = None
    demo: bool = False
    base_url: str | None = None
    upstream_type: str = "openai-compatible"
    api_key: str | None = field(default=None, repr=False)
    server: dict[str, Any] = field(default_factory=dict)
    log_level: str | None = None
    keeper: bool = False  # --with-worker
    watch: bool = True  # reload when the file changes

    @property
    def file(self) -> Path | None:
        return Path(self.path) if self.path else None

    def load(self, reloading: bool = False) -> TurnoutConfig:
        """The config as ``serve`` would build it now; raises ``ConfigError`` (every
        problem, with paths and lines) when the file is invalid, half-written or gone.
        ``reloading``: the file is read once nobody writes it, and never applied empty."""
        from turnout.cli.build import build_config

        cfg = build_config(
            self.file,
            demo=self.demo,
            base_url=self.base_url,
            upstream_type=self.upstream_type,
            api_key=self.api_key,
            server=self.server,
            log_level=self.log_level,
            reloading=reloading,
        )
        if self.keeper:
            cfg = cfg.model_copy(update={"health": cfg.health.model_copy(update={"keeper": True})})
        return cfg

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> ConfigSource:
        return cls(**json.loads(text))


def version_of(config: TurnoutConfig) -> str:
    """A short digest of a whole config: equal on every worker and replica that serves the
    same thing, different after any change. Twelve hex digits of SHA-256 tell versions apart
    without saying anything about the secrets inside."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]
