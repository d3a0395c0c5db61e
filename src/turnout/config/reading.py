"""Reading a config file (and the ``.env`` beside it) with bounds a hostile file cannot pass.

A config path is read at start, by ``turnout check`` and by every reload, so whatever sits at
that path must not hang, exhaust or crash the process that reads it:

* only a regular file is read (a symlink to one is fine): a FIFO would block the reading
  thread forever, and with it every later reload; ``/dev/zero`` or ``/dev/urandom`` never end.
  The file is opened non-blocking so even opening a FIFO returns at once;
* at most :data:`MAX_FILE_BYTES` are read, larger is refused;
* the bytes must be UTF-8: the problem says the line and column of the first bad byte;
* YAML is composed once into its node graph, which is checked before a Python object is built:
  nesting deeper than :data:`MAX_DEPTH` (the composer and every later walk recurse), an alias
  that contains itself, and aliases that would add more than :data:`MAX_ALIAS_NODES` nodes
  (an alias bomb: 336 bytes that expand to a million lists) are refused, each as one problem;
* a reload reads the file once nobody writes it (:func:`read_settled`), so a file written in
  place is not applied half-written.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
MAX_ALIAS_NODES = 100_000
QUIET = 0.25  # seconds a file must stay unchanged where open writers cannot be seen
PATIENCE = 10.0  # seconds a reload waits for a file being written
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


class ReadProblem(Exception):
    """The file cannot be used; ``where`` is ``<file>`` or ``line L, column C``."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(message)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _open(path: Path) -> int:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ReadProblem("<file>", f"cannot read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ReadProblem("<file>", f"cannot read: {_kind(mode)}, not a regular file")
    return fd


def _read(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        except OSError as exc:
            raise ReadProblem("<file>", f"cannot read: {exc.strerror or exc}") from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise ReadProblem("<file>", f"larger than {limit // (1024 * 1024)} MiB: refused")
    return b"".join(chunks)


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The whole file, if it is a regular file of at most ``limit`` bytes."""
    fd = _open(path)
    try:
        return _read(fd, limit)
    finally:
        os.close(fd)


def being_written(fd: int) -> bool | None:
    """Whether some process holds the file open for writing (Linux: a read lease is refused
    then); None when that cannot be known (another system, a file system without leases, a
    file the process neither owns nor may lease)."""
    setlease = getattr(fcntl, "F_SETLEASE", None)
    if setlease is None:
        return None
    try:
        fcntl.fcntl(fd, setlease, fcntl.F_RDLCK)
    except OSError as exc:
        return True if exc.errno == errno.EAGAIN else None
    fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)
    return False


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_settled(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file once nobody is writing it, for a reload: a file written in place (a template
    tool, ``cat > file``, a copy over the network) is read only when no process holds it open
    for writing and it did not change while it was read; where open writers cannot be seen,
    only when it stayed the same for :data:`QUIET` seconds. A file still being written after
    :data:`PATIENCE` seconds is a problem (the previous config keeps serving)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        fd = _open(path)
        try:
            before = os.fstat(fd)
            writer = being_written(fd)
            data = _read(fd, limit)
        finally:
            os.close(fd)
        if writer is None:
            time.sleep(QUIET)
        if not writer:
            try:
                after = os.stat(path)
            except OSError as exc:
                raise ReadProblem("<file>", f"cannot read: {exc.strerror or exc}") from None
            if _identity(before) == _identity(after):
                return data
        if time.monotonic() > deadline:
            raise ReadProblem(
                "<file>", f"still being written after {PATIENCE:g} s (open for writing or changing)"
            )
        time.sleep(0.05)


def decode(data: bytes) -> str:
    """UTF-8 text, or a problem at the line and column of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ReadProblem(
            f"line {line}, column {column}", f"not UTF-8 text (byte 0x{bad})"
        ) from None


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    return decode(read_bytes(path, limit))


def compose(text: str) -> tuple[Any, yaml.Node | None]:
    """The YAML document's tree and its node graph (for lines), checked first."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ReadProblem("<file>", TOO_DEEP) from None
        if node is None:
            return None, None
        check_graph(node)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_graph(root: yaml.Node) -> None:
    """Depth, cycles and the size aliases expand to, without expanding anything."""
    size: dict[int, int] = {}  # expanded node count under each node, once finished
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if depth[key] > MAX_DEPTH:
                line = node.start_mark.line + 1
                raise ReadProblem(f"line {line}", TOO_DEEP)
            continue
        if key in size:
            continue
        if key in on_path:
            line = node.start_mark.line + 1
            raise ReadProblem(f"line {line}", "an alias refers to a node that contains it")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)
        if len(on_path) > MAX_DEPTH + 1:
            line = node.start_mark.line + 1
            raise ReadProblem(f"line {line}", TOO_DEEP)
    added = size[id(root)] - len(size)
    if added > MAX_ALIAS_NODES:
        raise ReadProblem(
            "<file>",
            f"aliases expand the document by {added} nodes, more than {MAX_ALIAS_NODES} "
            "(an alias bomb?): refused",
        )


def check_depth(tree: Any) -> None:
    """A parsed tree (TOML's) nested at most :data:`MAX_DEPTH` levels."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        value, level = stack.pop()
        if level > MAX_DEPTH:
            raise ReadProblem("<file>", TOO_DEEP)
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
