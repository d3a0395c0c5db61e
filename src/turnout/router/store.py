"""The router registry: a directory of numbered versions, each safe to load.

::

    routers/
      v0001/
        manifest.json   kind, deployments, costs, parameters, metrics, training-data
                        fingerprint, library versions, and the SHA-256 of every file
        arrays.npz      every array (NumPy's format, read with allow_pickle=False)
        heldout.jsonl   the held-out examples the metrics were measured on
        eval.json, eval.png   written by ``turnout router eval``
      deploys.jsonl     which version went live for which model group, and when

A version is written to a temporary directory and renamed into place, so a reader never sees
half of one; numbers are taken with an exclusive ``mkdir``, so two trainings never share one.
Versions are never modified after that (eval output aside), which is what makes a rollback
exact.

**Nothing here unpickles by default.** Loading a pickle runs arbitrary code from whoever wrote
the file, so a version stored as a pickle (``format: pickle``) is refused unless the caller
says ``allow_pickle=True`` (the strategy option ``allow_pickle: true``); arrays are read with
``allow_pickle=False``, so an object array smuggled into ``arrays.npz`` is refused too; and a
file whose SHA-256 does not match the manifest is refused before it is parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the model pulls in NumPy and scikit-learn: only where one is loaded
    from turnout.router.model import RouterModel

FORMAT = "turnout-router/1"
ARRAYS, MANIFEST, HELDOUT, PICKLE = "arrays.npz", "manifest.json", "heldout.jsonl", "model.pkl"
DEPLOYS = "deploys.jsonl"
_VERSION = re.compile(r"^v?0*(\d+)$")


class RouterStoreError(Exception):
    """A registry problem a person must fix (unknown version, damaged or unsafe file)."""


class PickleRefused(RouterStoreError):
    pass


def version_name(number: int) -> str:
    return f"v{number:04d}"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("turnout", "scikit-learn", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


class Registry:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- naming -------------------------------------------------------------------------------
    def versions(self) -> list[int]:
        if not self.root.is_dir():
            return []
        out = []
        for entry in self.root.iterdir():
            m = _VERSION.match(entry.name)
            if m and entry.name.startswith("v") and (entry / MANIFEST).is_file():
                out.append(int(m.group(1)))
        return sorted(out)

    def resolve(self, ref: str | int) -> int:
        """A version number from ``3``, ``v3``, ``v0003`` or ``latest``."""
        known = self.versions()
        if str(ref) == "latest":
            if not known:
                raise RouterStoreError(f"no router versions in {self.root}")
            return known[-1]
        m = _VERSION.match(str(ref).strip())
        if m is None:
            raise RouterStoreError(f"not a router version: {ref!r} (expected e.g. 3 or v0003)")
        number = int(m.group(1))
        if number not in known:
            listed = ", ".join(version_name(v) for v in known) or "none"
            raise RouterStoreError(f"no router version {ref} in {self.root} (known: {listed})")
        return number

    def path(self, ref: str | int) -> Path:
        return self.root / version_name(self.resolve(ref))

    # -- writing ------------------------------------------------------------------------------
    def save(
        self,
        model: RouterModel,
        *,
        metrics: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
        heldout: Iterable[Mapping[str, Any]] = (),
        unsafe_pickle: bool = False,
    ) -> int:
        """Store a new version and return its number."""
        import numpy as np

        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))
        try:
            files: dict[str, str] = {}
            if unsafe_pickle:
                import pickle

                (tmp / PICKLE).write_bytes(pickle.dumps(model))
                files[PICKLE] = sha256(tmp / PICKLE)
            else:
                buffer = io.BytesIO()
                np.savez_compressed(buffer, **model.arrays())  # type: ignore[arg-type]
                (tmp / ARRAYS).write_bytes(buffer.getvalue())
                files[ARRAYS] = sha256(tmp / ARRAYS)
            # A lone surrogate in a prompt (UTF-8 cannot carry it) is written as its JSON
            # escape, which reads back as the same string.
            with (tmp / HELDOUT).open("w", encoding="utf-8", errors="backslashreplace") as f:
                for row in heldout:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            files[HELDOUT] = sha256(tmp / HELDOUT)
            number = self._claim()
            manifest = {
                "format": FORMAT,
                "storage": "pickle" if unsafe_pickle else "npz",
                "version": version_name(number),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **model.params(),
                "metrics": dict(metrics or {}),
                "data": dict(data or {}),
                "training": dict(training or {}),
                "libraries": _library_versions(),
                "files": files,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
            final = self.root / version_name(number)
            final.rmdir()  # the placeholder that claimed the number
            os.replace(tmp, final)
            model.version = version_name(number)
            return number
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _claim(self) -> int:
        number = (self.versions() or [0])[-1] + 1
        while True:
            try:
                (self.root / version_name(number)).mkdir()
                return number
            except FileExistsError:
                number += 1

    def write_extra(self, ref: str | int, name: str, data: bytes) -> Path:
        """Add an evaluation report beside a version (the only files added after saving)."""
        if name in (ARRAYS, MANIFEST, HELDOUT, PICKLE) or "/" in name:
            raise RouterStoreError(f"cannot overwrite {name}")
        path = self.path(ref) / name
        path.write_bytes(data)
        return path

    # -- reading ------------------------------------------------------------------------------
    def manifest(self, ref: str | int) -> dict[str, Any]:
        path = self.path(ref) / MANIFEST
        try:
            manifest: dict[str, Any] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RouterStoreError(f"{path}: unreadable manifest ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise RouterStoreError(f"{path}: not a {FORMAT} manifest")
        return manifest

    def _checked(self, directory: Path, name: str, manifest: Mapping[str, Any]) -> Path:
        path = directory / name
        expected = dict(manifest.get("files") or {}).get(name)
        if not path.is_file():
            raise RouterStoreError(f"{path} is missing")
        if expected is None or sha256(path) != expected:
            raise RouterStoreError(f"{path} does not match its manifest: refusing to load it")
        return path

    def load(self, ref: str | int, *, allow_pickle: bool = False) -> RouterModel:
        number = self.resolve(ref)
        directory = self.root / version_name(number)
        manifest = self.manifest(number)
        if manifest.get("storage") == "pickle" or (directory / PICKLE).exists():
            if not allow_pickle:
                raise PickleRefused(
                    f"{directory} holds a pickled router; loading a pickle runs any code its "
                    "author put in it, so it is refused unless the model group's "
                    "strategy_options say allow_pickle: true"
                )
            return self._load_pickle(directory, manifest)
        import numpy as np

        from turnout.router.model import RouterModel

        path = self._checked(directory, ARRAYS, manifest)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except ValueError as exc:  # object arrays need pickle: refused
            raise PickleRefused(f"{path}: {exc}") from None
        except (OSError, KeyError) as exc:
            raise RouterStoreError(f"{path}: unreadable ({exc})") from None
        try:
            return RouterModel.load(manifest, arrays, version=version_name(number))
        except (KeyError, ValueError, TypeError) as exc:
            raise RouterStoreError(f"{directory}: damaged router ({exc!r})") from None

    def _load_pickle(self, directory: Path, manifest: Mapping[str, Any]) -> RouterModel:
        import pickle

        from turnout.router.model import RouterModel

        path = self._checked(directory, PICKLE, manifest)
        model = pickle.loads(path.read_bytes())  # allowed explicitly by the configuration
        if not isinstance(model, RouterModel):
            raise RouterStoreError(f"{path} does not hold a RouterModel")
        model.version = version_name(int(_VERSION.match(directory.name).group(1)))  # type: ignore[union-attr]
        return model

    def heldout(self, ref: str | int) -> list[dict[str, Any]]:
        directory = self.path(ref)
        path = self._checked(directory, HELDOUT, self.manifest(ref))
        rows = []
        for line in path.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
        return rows

    # -- deployment history -------------------------------------------------------------------
    def record_deploy(self, model: str, entry: Mapping[str, Any]) -> None:
        """Append one deployment (or rollback) of ``model`` to the history."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "model": model, **entry}
        with (self.root / DEPLOYS).open("a") as f:
            f.write(json.dumps(line) + "\n")

    def deploys(self, model: str | None = None) -> list[dict[str, Any]]:
        path = self.root / DEPLOYS
        if not path.is_file():
            return []
        out = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                entry = json.loads(line)
                if isinstance(entry, dict) and (model is None or entry.get("model") == model):
                    out.append(entry)
        return out
