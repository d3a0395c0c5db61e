"""Durable state: the request log and persisted health, behind small ports.

``Storage`` (:mod:`.service`) is what the gateway opens; ``ports`` lists the interfaces,
``memory`` and ``sql`` implement them, ``writer`` and ``spool`` move request rows from the log
drain to the database without ever making a request wait. docs/storage.md is the guide.
"""

from turnout.storage.service import Storage

__all__ = ["Storage"]
