"""Routing: order a model's healthy deployments (strategies), try them, fail over by reason
(classify), and keep score on the health board. See docs/routing.md."""
