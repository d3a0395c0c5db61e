"""What a Redis limiter owes Redis after it could not reach it, kept until it answers again.

- **Admissions whose answer never came** (timed out, or given up by a caller that went away):
  Redis may still run them, late, taking a slot and a budget reservation no call holds. Each
  is answered with a settlement of nothing (the slot and the reservation go; harmless twice,
  and if the admission never ran), sent after every batch already on its way.
- **Spend Redis has not counted**: calls the local limiter admitted during an outage, and
  settlements that failed. Summed per budget spend key, so what waits is one number per
  budget however long the outage; a payment that timed out after Redis had applied it can be
  counted twice, never lost.

Both are bounded (:data:`BOUND` entries).
"""

from __future__ import annotations

from typing import Any

from turnout.redisconn import AutoPipeline, Ready

BOUND = 100_000
Call = tuple[list[str], list[Any]]  # a script's keys and arguments


class Arrears:
    def __init__(self) -> None:
        self.undo: list[Call] = []
        self.owed: dict[str, tuple[float, int]] = {}  # spend key -> (USD, expiry in ms)

    def __bool__(self) -> bool:
        return bool(self.undo or self.owed)

    def take_back(self, call: Call) -> None:
        if len(self.undo) < BOUND:
            self.undo.append(call)

    def owe(self, key: str, usd: float, expires: int) -> None:
        if key in self.owed or len(self.owed) < BOUND:
            self.owed[key] = (self.owed.get(key, (0.0, 0))[0] + usd, expires)

    async def pay(self, pipe: AutoPipeline, ready: Ready, script: str, sha: str) -> None:
        """Send everything owed (``script``: the settlement script). On a failure what was
        not sent is kept for the next time and the error raised."""
        undo, self.undo = self.undo, []
        owed, self.owed = self.owed, {}
        try:
            await pipe.sent()
            await ready()
            if undo:
                for answer in [pipe.evalsha(script, sha, k, a) for k, a in undo]:  # one batch
                    await answer
                undo = []
            client = pipe.client
            for key, (usd, expires) in list(owed.items()):
                await client.incrbyfloat(key, usd)
                await client.pexpireat(key, expires)
                del owed[key]
        except BaseException:
            self.undo = (undo + self.undo)[:BOUND]
            for key, (usd, expires) in owed.items():
                self.owe(key, usd, expires)
            raise
