"""Configuration: schema → load (YAML, env) → validate (every error, with paths) → compile."""

from turnout.config.compile import Runtime, compile_config
from turnout.config.load import ConfigError, load_config
from turnout.config.schema import TurnoutConfig

__all__ = ["ConfigError", "Runtime", "TurnoutConfig", "compile_config", "load_config"]
