"""Refresh the dashboard's vendored front-end libraries from the npm registry.

The dashboard has no build step: its libraries are plain files in
``src/turnout/dashboard/static/vendor/``, listed with their pinned version and the tarball's
integrity (SHA-512, as the registry publishes it) in ``VENDOR.json``. This script fetches each
tarball with ``npm pack`` (the npm client, nothing else), refuses one whose integrity differs
from the pin, and copies the listed files and the licence.

    uv run python scripts/vendor_dashboard.py                 # re-fetch the pinned versions
    uv run python scripts/vendor_dashboard.py --upgrade       # move every package to latest
    uv run python scripts/vendor_dashboard.py --upgrade htm   # only that one
    uv run python scripts/vendor_dashboard.py --check         # compare the files, change nothing

After an upgrade, read the libraries' changelogs, run ``uv run pytest tests/ui`` and look at
the screenshots it can write (docs/dashboard.md, "Upgrading the libraries").
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).resolve().parents[1] / "src/turnout/dashboard/static/vendor"
MANIFEST = VENDOR / "VENDOR.json"


def _npm(*args: str) -> str:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is not installed (apt-get install npm)")
    done = subprocess.run([npm, *args], check=True, capture_output=True, text=True)
    return done.stdout


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(name: str, spec: dict[str, Any], upgrade: bool, tmp: Path) -> dict[str, bytes]:
    """The files of one package (vendor name -> bytes), its pin updated when upgrading."""
    version = _npm("view", name, "version").strip() if upgrade else spec["version"]
    packed = json.loads(_npm("pack", f"{name}@{version}", "--json", "--pack-destination", str(tmp)))
    tarball = tmp / packed[0]["filename"]
    integrity = _integrity(tarball)
    if not upgrade and integrity != spec["integrity"]:
        sys.exit(f"{name}@{version}: integrity {integrity} differs from the pin in VENDOR.json")
    spec["version"], spec["integrity"] = version, integrity
    out: dict[str, bytes] = {}
    with tarfile.open(tarball) as tar:
        for dest, source in {**spec["files"], f"LICENSES/{name}.txt": spec["license"]}.items():
            member = tar.extractfile(f"package/{source}")
            if member is None:
                sys.exit(f"{name}@{version} has no {source}")
            out[dest] = member.read()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", nargs="*", metavar="PACKAGE", help="move to the latest")
    parser.add_argument("--check", action="store_true", help="only compare the vendored files")
    args = parser.parse_args()
    manifest = json.loads(MANIFEST.read_text())
    upgrading = set(args.upgrade or ()) or (
        set(manifest["packages"]) if args.upgrade == [] else set()
    )
    stale: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in manifest["packages"].items():
            before = spec["version"]
            files = fetch(name, spec, name in upgrading, Path(tmp))
            for dest, data in files.items():
                path = VENDOR / dest
                if args.check:
                    if not path.exists() or path.read_bytes() != data:
                        stale.append(dest)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            print(
                f"{name}: {before} -> {spec['version']}"
                if before != spec["version"]
                else f"{name}: {before}"
            )
    if args.check:
        if stale:
            sys.exit(f"differ from the pinned tarballs: {', '.join(stale)}")
        print("vendored files match their pinned tarballs")
        return
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
