"""``sticky``: pin a client to one deployment for a while, to keep provider prompt caches warm.

An agent sends the same long prefix turn after turn; providers cache that prefix per backend,
so plain load balancing drops cache hits to about zero. The client is recognised by the first
``by`` source present in the request:

- ``session``: the ``x-session-id`` header,
- ``prompt_cache_key``: OpenAI's request field of that name,
- ``gateway_key``: the client's credential (the gateway key id once auth exists; until then a
  hash of the ``authorization`` / ``x-api-key`` / ``x-goog-api-key`` header),
- ``prefix``: a hash of the conversation's first ``prefix_messages`` messages (and system
  prompt): opt-in, because it costs a serialisation per request.

A pinned client goes to its deployment first while that deployment is available; otherwise
(and for clients seen for the first time) the ``priority`` order decides, and whichever
deployment answers becomes the new pin. Pins expire ``ttl`` seconds after their last use; the
table is bounded (past ``max_entries`` the gateway key holding the most pins loses its
oldest). With a shared backend (``shared.backend: redis``) the table is copied between
replicas in the background (:mod:`turnout.shared.sync`): a new or moved pin, or one whose copy
elsewhere is half way to expiry, goes into an outbox the sync task publishes, and pins
published elsewhere are adopted. A client this process has no live pin for
is claimed in Redis first (``prefetch``, :mod:`turnout.shared.pins`), so the replicas that see
it first, even at the same moment, agree on one deployment. A known client costs a dict read.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, Field

from turnout.fairshare import Shares
from turnout.protocols.registry import PROTOCOLS
from turnout.routing.member import Member
from turnout.routing.strategies.base import NoOptions, Strategy
from turnout.routing.strategies.priority import Priority
from turnout.types import Call, Handler

if TYPE_CHECKING:
    from turnout.shared.pins import PinClaims
    from turnout.shared.port import Pin

Source = Literal["session", "prompt_cache_key", "gateway_key", "prefix"]
_CREDENTIALS = (b"authorization", b"x-api-key", b"x-goog-api-key")
_DEFAULT_SOURCES: list[Source] = ["session", "prompt_cache_key", "gateway_key"]


class StickyOptions(NoOptions):
    ttl: float = Field(3600.0, gt=0, description="seconds a pin lasts after its last use")
    by: list[Source] = Field(
        default_factory=lambda: list(_DEFAULT_SOURCES),
        min_length=1,
        description="where the client identity comes from, first present wins",
    )
    prefix_messages: int = Field(2, ge=1, description="messages hashed by the 'prefix' source")
    max_entries: int = Field(100_000, ge=1)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _scoped(call: Call, kind: str, value: bytes) -> str:
    """A client-chosen identity as a pin key: a digest (a session id or cache key may be
    kilobytes long, and the table holds ``max_entries`` of them, also in Redis) of the value
    within the caller's gateway key, so two tenants that pick the same session id never share,
    or move, one pin. The key id leads the digest (``s:<key id>:<digest>``) so every replica
    that adopts the pin knows whose share of the table it counts against (:func:`pin_owner`)."""
    owner = call.key_id or ""
    return kind + ":" + owner + ":" + _digest(owner.encode() + b"\0" + value)


def pin_owner(key: str) -> str:
    """The gateway key a pin counts against: the key id inside a client-chosen identity, or
    the gateway key (or credential digest) a ``g:`` pin is; "" for a pin of no key."""
    if key.startswith("g:"):
        return key
    kind_end, last = key.find(":"), key.rfind(":")
    return key[kind_end + 1 : last] if last > kind_end >= 0 else ""


def client_key(call: Call, options: StickyOptions) -> str | None:
    for source in options.by:
        if source == "session":
            value = call.headers.get(b"x-session-id")
            if value:
                return _scoped(call, "s", value)
        elif source == "prompt_cache_key":
            pck = call.data.get("prompt_cache_key")
            if isinstance(pck, str) and pck:
                return _scoped(call, "p", pck.encode("utf-8", "surrogatepass"))
        elif source == "gateway_key":
            key_id = call.key_id
            if isinstance(key_id, str):
                return "g:" + key_id
            for name in _CREDENTIALS:
                cred = call.headers.get(name)
                if cred:
                    return "g:" + _digest(cred)
        elif source == "prefix":
            prefix = _prefix(call, options.prefix_messages)
            if prefix is not None:
                return _scoped(call, "h", orjson.dumps(prefix))
    return None


def _prefix(call: Call, n: int) -> list[Any] | None:
    """The opening of a conversation, in whatever protocol (its descriptor finds it)."""
    system, messages = PROTOCOLS[call.protocol].conversation(call.data)
    if not isinstance(messages, list) or not messages:
        return None
    return [system, *messages[:n]]


class Sticky(Strategy):
    name = "sticky"
    Options = StickyOptions
    feedback = True

    def __init__(self, members: Sequence[Member], options: BaseModel) -> None:
        super().__init__(members, options)
        assert isinstance(options, StickyOptions)
        self.opts = options
        self.base = Priority(members, options)
        self.pins: dict[str, tuple[Member, float]] = {}
        self.held: Shares[str] = Shares()  # the pins by gateway key: whom the bound takes from
        self.clock = time.monotonic
        # Shared pins (turnout.shared.sync): what to publish, and when each copy elsewhere
        # expires (monotonic); None while pins are this process's alone.
        self.outbox: dict[str, Member] | None = None
        self.published: dict[str, float] = {}
        self.by_id = {m.spec.id: m for m in members}
        self.claims: PinClaims | None = None  # read-through on a miss (turnout.shared.pins)
        self.model = ""

    async def prefetch(self, call: Call, route: Handler) -> None:
        """Shared pins only: a client without a live pin here gets the one every replica
        agrees on (the first claimed), before ``order`` reads the table."""
        claims = self.claims
        key = client_key(call, self.opts) if claims is not None else None
        if key is None or claims is None:
            return
        now = self.clock()
        pin = self.pins.get(key)
        if pin is not None and pin[1] > now:
            return
        available = [m for m in self.members if m.health.available(now)]
        if not available:
            return
        mine = self.base.order(available, call)[0]
        got = await claims.claim(self.model, key, mine.spec.id, self.opts.ttl)
        if got is None:
            return  # Redis cannot say: pinned here alone, as with one process
        member = self.by_id.get(got[0])
        if member is not None:
            # Not marked published: the answer puts it in the outbox, and the sync task
            # hands it to the replicas that have not read it through yet.
            self._put(key, member, self.clock() + got[1])

    def order(self, candidates: list[Member], call: Call) -> list[Member]:
        key = client_key(call, self.opts)
        if key is None:
            return self.base.order(candidates, call)
        call.sticky_key = key
        pin = self.pins.get(key)
        if pin is not None and pin[1] > self.clock():
            # By position in the route, not identity: a wildcard route's candidates are the
            # requested model's view of its members (routing/plan.py), and a pin adopted from
            # another replica is the plan's own member.
            index = pin[0].index
            for member in candidates:
                if member.index == index:
                    rest = [m for m in candidates if m is not member]
                    return [member, *self.base.order(rest, call)] if rest else [member]
        return self.base.order(candidates, call)

    def answered(self, call: Call, member: Member) -> None:
        key = call.sticky_key
        if key is None:
            return
        now = self.clock()
        old = self._put(key, member, now + self.opts.ttl)
        outbox = self.outbox
        if outbox is not None and (
            old is None
            or old[0] is not member
            or self.published.get(key, 0.0) - now < self.opts.ttl / 2
        ):
            outbox[key] = member

    def _put(self, key: str, member: Member, expires: float) -> tuple[Member, float] | None:
        """Pin ``key``; returns the pin it replaces. Re-inserted at the end: the dict's order
        is the age order. When the table is full, the gateway key holding the most pins loses
        its oldest (:mod:`turnout.fairshare`): one key naming sessions in a loop pushes out
        only its own pins, never another key's (whose agents would lose their provider's
        prompt cache)."""
        pins, held = self.pins, self.held
        old = pins.pop(key, None)
        if old is not None:
            held.touch(key, pin_owner(key))
        else:
            held.add(key, pin_owner(key))
            while len(pins) >= self.opts.max_entries:
                oldest, owner = held.victim()
                held.remove(oldest, owner)
                del pins[oldest]
                self.published.pop(oldest, None)
        pins[key] = (member, expires)
        return old

    # -- shared pins (turnout.shared.sync) ---------------------------------------------------
    def share(self, model: str = "", claims: PinClaims | None = None) -> None:
        """Copy pins to the other replicas (the outbox) and, with ``claims``, read through on
        a miss (``prefetch``)."""
        self.outbox = {}
        self.model = model
        self.claims = claims
        self.prefetch_wanted = claims is not None

    def take_outbox(self, model: str) -> list[Pin]:
        """The pins to publish since the last call, with their wall-clock expiry."""
        from turnout.shared.port import Pin

        outbox = self.outbox
        if not outbox:
            return []
        self.outbox = {}
        now, wall, ttl = self.clock(), time.time(), self.opts.ttl
        out: list[Pin] = []
        for key, member in outbox.items():
            self.published[key] = now + ttl
            out.append(Pin(model, key, member.spec.id, wall + ttl))
        return out

    def adopt(self, pin: Pin) -> None:
        """A pin made by another replica (newest wins, as the stream orders them)."""
        member = self.by_id.get(pin.deployment)
        if member is None:
            return
        expires = self.clock() + (pin.expires - time.time())
        self._put(pin.client, member, expires)
        self.published[pin.client] = expires

    def carry(self, old: Strategy) -> None:
        """Pins to deployments the model still has survive a reload, with their expiry."""
        if not isinstance(old, Sticky):
            return
        now = self.members_by_id()
        for key, (member, expires) in old.pins.items():
            new = now.get(member.health.id)
            if new is not None and len(self.pins) < self.opts.max_entries:
                self.pins[key] = (new, expires)
                self.held.add(key, pin_owner(key))
                if key in old.published:
                    self.published[key] = old.published[key]

    def members_by_id(self) -> dict[str, Member]:
        return {m.health.id: m for m in self.members}

    def pinned(self, key: str) -> Member | None:
        pin = self.pins.get(key)
        return pin[0] if pin is not None and pin[1] > self.clock() else None
