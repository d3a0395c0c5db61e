"""Health of deployments and keys: breakers, key pools, limits, persistence, the keeper.

The router reads and updates it on the request path (attribute arithmetic only); background
tasks save it through :class:`~turnout.health.store.HealthStore`, log its transitions and
probe keys (:mod:`turnout.health.keeper`).
"""
