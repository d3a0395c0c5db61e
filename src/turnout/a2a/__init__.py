"""The A2A gateway: Agent-to-Agent agents behind the gateway's keys, limits and logs
(docs/a2a.md). ``service.A2AService`` serves ``/a2a``; ``config`` is the ``agents:`` section;
``registry`` holds the agents and their cards; ``relay`` moves JSON-RPC and SSE; ``governance``
decides who may call what, how often and how many messages a task may take."""
