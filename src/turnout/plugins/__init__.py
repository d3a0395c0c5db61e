"""Plugins and guardrails: the contract (base.py), the registry, the compiled pipeline
(config.py), the step that runs it (runner.py) and the built-in guardrails, one module each
(docs/plugins.md)."""

from turnout.plugins.base import Host, NoSettings, Plugin, Run, Settings, json_reply, replace_data

__all__ = ["Host", "NoSettings", "Plugin", "Run", "Settings", "json_reply", "replace_data"]
