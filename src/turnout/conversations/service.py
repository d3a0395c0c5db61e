"""Building the conversation step from the ``storage:`` settings."""

from __future__ import annotations

from turnout.config.schema import StorageConfig
from turnout.conversations.step import Conversations
from turnout.conversations.store import ConversationStore, MemoryConversationStore


def conversations(config: StorageConfig, store: ConversationStore | None = None) -> Conversations:
    """The step over ``store`` (the database's), or over a bounded memory store."""
    if store is None:
        store = MemoryConversationStore(max_entries=config.responses_max_entries)
    return Conversations(store, config.responses_ttl_hours * 3600, config.responses_max_kb * 1024)
