"""Where request rows wait while the database is unreachable: append-only files on local disk.

Rows are appended to a *segment* (one JSON array per line) that its process holds an exclusive
``flock`` on while writing; a sealed segment (closed, lock released) is replayed by whichever
process locks it first, then deleted. A crash leaves segments behind and the next start replays
them; a replay cut short is replayed again, which is harmless because replays skip rows already
stored. The directory is bounded (``spool_max_mb``): beyond it rows are dropped and counted,
never allowed to fill the disk.

Appends are plain ``os.write`` calls (no user-space buffer), so a row the writer accepted
survives the process being killed; segments are ``fsync``-ed when sealed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from turnout.storage.rows import Row, decode, encode

SUFFIX = ".jsonl"


class Spool:
    # A replay works a segment at a time; small segments keep fresh rows from waiting long.
    SEGMENT_BYTES = 4 * 1024 * 1024

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self._fd: int | None = None
        self._current: Path | None = None
        self._written = 0  # bytes in the current segment
        self.rows = 0  # rows appended by this process
        self.dropped = 0  # rows refused because the spool was full
        self.corrupt = 0  # lines skipped on replay (cut by a crash)
        self.size = self._measure()

    def _measure(self) -> int:
        if not self.dir.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.dir.glob(f"*{SUFFIX}") if p.is_file())

    def append(self, rows: list[Row]) -> int:
        """Append rows; returns how many were kept (0 when the spool is full)."""
        if not rows:
            return 0
        data = encode(rows)
        if self.size + len(data) > self.max_bytes:
            self.dropped += len(rows)
            return 0
        if self._fd is not None and self._written >= self.SEGMENT_BYTES:
            self.seal()
        fd = self._fd if self._fd is not None else self._open()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        self.size += len(data)
        self._written += len(data)
        self.rows += len(rows)
        return len(rows)

    def _open(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"spool-{time.time_ns()}-{os.getpid()}-{os.urandom(3).hex()}{SUFFIX}"
        path = self.dir / name
        # Created under a name no other process lists, and named only once locked: another
        # worker sharing the directory must never find it unlocked, take it for a sealed
        # segment, replay it empty and delete it while this one appends to it.
        opening = self.dir / f".{name}.opening"
        fd = os.open(opening, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(opening, path)
        self._fd, self._current, self._written = fd, path, 0
        return fd

    def seal(self) -> None:
        """Close the segment being written so it can be replayed."""
        fd, self._fd, self._current = self._fd, None, None
        if fd is not None:
            os.fsync(fd)
            os.close(fd)

    @property
    def writing(self) -> bool:
        return self._fd is not None

    def segments(self) -> list[Path]:
        """Sealed segments, oldest first (the size is re-measured: other processes spool
        into the same directory)."""
        if not self.dir.is_dir():
            return []
        self.size = self._measure()
        return sorted(p for p in self.dir.glob(f"*{SUFFIX}") if p != self._current and p.is_file())

    @contextlib.contextmanager
    def claim(self, path: Path) -> Iterator[bool]:
        """Lock a sealed segment for replay; yields False when another process holds it."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def read(self, path: Path, chunk: int) -> Iterator[list[Row]]:
        """A claimed segment's rows, ``chunk`` at a time (memory stays bounded)."""
        batch: list[Row] = []
        with path.open("rb") as f:
            for line in f:
                row = decode(line)
                if row is None:
                    self.corrupt += 1
                    continue
                batch.append(row)
                if len(batch) >= chunk:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            path.unlink()
            self.size = max(0, self.size - size)
