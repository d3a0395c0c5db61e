"""``python -m turnout.mock``: run the mock provider without the gateway's CLI.

Tests and benchmarks start it as a subprocess; the flags are the server-wide defaults that
``x-mock-*`` request headers override.
"""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Sequence
from pathlib import Path

from turnout.mock.clouds import CloudAuth
from turnout.mock.server import serve
from turnout.mock.settings import DEFAULT_TOKENS, MockSettings, SettingsError, parse_fault
from turnout.mock.skills import SkillError, SkillProfile


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m turnout.mock",
        description="Mock OpenAI / Anthropic / Gemini provider for tests and benchmarks.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9001, help="port to bind, 0 for any (default 9001)")
    p.add_argument("--status", type=int, default=200, help="HTTP status of every response")
    p.add_argument("--retry-after", type=float, default=None, help="retry-after seconds on errors")
    p.add_argument("--ttft-ms", type=float, default=0.0, help="delay before the first byte")
    p.add_argument("--chunk-ms", type=float, default=0.0, help="delay between stream frames")
    p.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, help="completion tokens")
    p.add_argument(
        "--fault",
        default="none",
        help="disconnect | hang | malformed | truncate | error-midstream | none",
    )
    p.add_argument(
        "--skills", default=None, help="skill profile (JSON/YAML): answer quality per model"
    )
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="its private key (PEM)")
    p.add_argument("--tls-client-ca", help="require client certificates signed by this CA (mTLS)")
    p.add_argument(
        "--tools",
        default="named",
        choices=("named", "first"),
        help="named: call a tool only when the prompt names one (default); first: always the "
        "first offered tool",
    )
    p.add_argument(
        "--clouds",
        default=None,
        help="cloud credentials (JSON/YAML) the Azure, Vertex AI and Bedrock routes check",
    )
    return p


def tls_from_args(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    if args.tls_client_ca:
        ctx.load_verify_locations(args.tls_client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def settings_from_args(args: argparse.Namespace) -> MockSettings:
    return MockSettings(
        status=args.status,
        retry_after=args.retry_after,
        ttft_ms=args.ttft_ms,
        chunk_ms=args.chunk_ms,
        tokens=args.tokens,
        fault=parse_fault(args.fault),
        skills=SkillProfile.load(args.skills) if args.skills else None,
        tools=args.tools,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        clouds = CloudAuth.load(Path(args.clouds)) if args.clouds else None
    except (SettingsError, SkillError, OSError, ValueError) as exc:
        parser.error(str(exc))
    serve(args.host, args.port, settings, tls_from_args(args), clouds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
