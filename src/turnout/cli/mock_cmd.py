"""``turnout mock``: the mock provider as a real server, for tests, benchmarks and demos."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from turnout.mock.settings import MockSettings


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
        Path | None,
        typer.Option(metavar="FILE", help="Skill profile (JSON/YAML): answer quality per model."),
    ] = None,
    tools: Annotated[
        str,
        typer.Option(
            metavar="MODE",
            help="When to call a tool: named (only when the prompt names one or tool_choice "
            "requires one) or first (always the first offered tool).",
        ),
    ] = "named",
    clouds: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Cloud credentials (JSON/YAML) the Azure, Vertex AI and Bedrock routes check; "
            "without it they accept any.",
        ),
    ] = None,
) -> None:
    """Run the mock provider: OpenAI, Anthropic and Gemini on one port, and the clouds' routes
    (Azure OpenAI, Vertex AI, Bedrock) with their token endpoints."""
    from turnout.mock.clouds import CloudAuth
    from turnout.mock.server import serve
    from turnout.mock.settings import SettingsError

    try:
        settings = _settings(status, retry_after, ttft_ms, chunk_ms, tokens, fault, tools, skills)
        auth = CloudAuth.load(clouds) if clouds else None
    except (SettingsError, ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    serve(host, port, settings, clouds=auth)


def _settings(
    status: int,
    retry_after: float | None,
    ttft_ms: float,
    chunk_ms: float,
    tokens: int,
    fault: str | None,
    tools: str,
    skills: Path | None,
) -> MockSettings:
    from turnout.mock.engine import MockSettings
    from turnout.mock.settings import parse_fault
    from turnout.mock.skills import SkillProfile

    return MockSettings(
        status=status,
        retry_after=retry_after,
        ttft_ms=ttft_ms,
        chunk_ms=chunk_ms,
        tokens=tokens,
        fault=parse_fault(fault) if fault else None,
        skills=SkillProfile.load(skills) if skills else None,
        tools=tools,  # type: ignore[arg-type]  # checked by MockSettings
    )
