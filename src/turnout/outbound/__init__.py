"""The outbound policy: every connection the gateway opens on someone's behalf passes here.

See :mod:`turnout.outbound.policy` for the API and docs/security.md for the rules.
"""

from turnout.errors import OutboundRefused
from turnout.outbound.addresses import IPAddress, refusal
from turnout.outbound.policy import Destination, Origin, OutboundPolicy, OutboundSettings
from turnout.outbound.resolver import NameserverResolver, Resolver, SystemResolver

__all__ = [
    "Destination",
    "IPAddress",
    "NameserverResolver",
    "Origin",
    "OutboundPolicy",
    "OutboundRefused",
    "OutboundSettings",
    "Resolver",
    "SystemResolver",
    "refusal",
]
