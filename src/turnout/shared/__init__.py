"""Health and routing state shared by every replica of a gateway (docs/routing.md)."""
