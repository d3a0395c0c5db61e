"""``turnout mock``: the mock provider as a real server, for tests, benchmarks and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def mock(
    host: Annotated[str, typer.Option(metavar="HOST", help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port.")] = 9000,
    status: Annotated[
        int, typer.Option(metavar="CODE", help="Answer every request with this status.")
    ] = 200,
    retry_after: Annotated[
        float | None,
        typer.Option("--retry-after", metavar="SECONDS", help="Retry-After on error answers."),
    ] = None,
    ttft_ms: Annotated[
        float, typer.Option("--ttft-ms", metavar="MS", help="Delay before the first byte.")
    ] = 0,
    chunk_ms: Annotated[
        float, typer.Option("--chunk-ms", metavar="MS", help="Delay between stream chunks.")
    ] = 0,
    tokens: Annotated[int, typer.Option(metavar="N", help="Completion tokens per answer.")] = 16,
    fault: Annotated[
        str | None,
        typer.Option(
            metavar="FAULT", help="disconnect, hang, malformed, truncate or error-midstream."
        ),
    ] = None,
    skills: Annotated[
        Path | None, typer.Option(help="skill profile (JSON/YAML): answer quality per model")
    ] = None,
) -> None:
    """Run the mock provider: OpenAI, Anthropic and Gemini on one port."""
    from turnout.mock.engine import MockSettings
    from turnout.mock.server import serve
    from turnout.mock.settings import parse_fault
    from turnout.mock.skills import SkillProfile

    settings = MockSettings(
        status=status,
        retry_after=retry_after,
        ttft_ms=ttft_ms,
        chunk_ms=chunk_ms,
        tokens=tokens,
        fault=parse_fault(fault) if fault else None,
        skills=SkillProfile.load(skills) if skills else None,
    )
    serve(host, port, settings)
