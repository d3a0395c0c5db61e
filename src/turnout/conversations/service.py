"""Building the conversation step from the ``storage:`` settings."""

from __future__ import annotations

from turnout.config.schema import StorageConfig
from turnout.conversations.step import Conversations
from turnout.conversations.store import ConversationStore, MemoryConversationStore
from turnout.conversations.writer import WriteBehind


def conversations(config: StorageConfig, store: ConversationStore | None = None) -> Conversations:
    """The step over ``store`` (the database's, written behind the request path: needs a
    running loop), or over a bounded memory store."""
    if store is None:
        store = MemoryConversationStore(max_entries=config.responses_max_entries)
    else:
        writer = WriteBehind(store)
        writer.start()
        store = writer
    return Conversations(store, config.responses_ttl_hours * 3600, config.responses_max_kb * 1024)
