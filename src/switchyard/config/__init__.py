"""Configuration: schema → load (YAML, env) → validate (every error, with paths) → compile."""

from switchyard.config.compile import Runtime, compile_config
from switchyard.config.load import ConfigError, load_config
from switchyard.config.schema import SwitchyardConfig

__all__ = ["ConfigError", "Runtime", "SwitchyardConfig", "compile_config", "load_config"]
