"""The request pipeline: steps folded around the router (auth → limits → cache → routing)."""

from turnout.pipeline.chain import Step, build_pipeline

__all__ = ["Step", "build_pipeline"]
