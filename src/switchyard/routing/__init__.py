"""Routing: which deployment and key serve a call, and what happens when one fails."""
