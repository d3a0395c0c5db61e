"""Wire protocols: one folder per protocol, each describing itself in one object.

``protocols/<name>/`` holds the pure codecs to and from the IR (``request``, ``response``,
``stream``), its error shapes (``errors``), where its usage sits in relayed bytes (``usage``),
what decides a cached answer (``cache``), its inbound routes (``routes``), and ``spec.py``,
which puts them together in a :class:`~turnout.protocols.descriptor.WireProtocol`.
:mod:`turnout.protocols.registry` lists the descriptors; the rest of the gateway looks
protocols up there.
"""
