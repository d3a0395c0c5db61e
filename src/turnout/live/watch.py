"""Watch the config file and reload when it changes.

The file's directory is watched, not the file: editors that save by writing a new file and
renaming it over the old one (vim, most IDEs), and Kubernetes ConfigMaps (a ``..data`` link
swapped in the same directory) replace the inode, which a watch on the file itself would lose.
Events are debounced (an editor's save is several writes; a half-written file that slips
through just fails validation and the next event reloads it), and a change that leaves the
config as it is costs one read and one digest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from turnout.observability.logging import get_logger

log = get_logger("turnout.config")
DEBOUNCE_MS = 300


def relevant(file: Path) -> Callable[[object, str], bool]:
    """The file itself, the ``.env`` beside it, Kubernetes' ``..data``-style links, and the
    file a symlinked config points at (edited where it lives)."""
    names = {file.name, *(p.name for p in _targets(file))}

    def keep(change: object, path: str) -> bool:
        base = Path(path).name
        return base in names or base == ".env" or base.startswith("..")

    return keep


def _directory(file: Path) -> Path:
    return Path(os.path.abspath(file)).parent  # not resolved: a symlinked file's link is here


def _targets(file: Path) -> list[Path]:
    """Where a symlinked config leads: each link's target on the way, and the file itself."""
    out: list[Path] = []
    current = Path(os.path.abspath(file))
    for _ in range(40):  # the kernel's own limit on links followed
        try:
            target = os.readlink(current)
        except OSError:
            break
        current = Path(os.path.normpath(current.parent / target))
        out.append(current)
    return out


def directories(file: Path) -> list[Path]:
    """The directory of the config path and of every file its links lead to: editing the
    target of a link in place, where it lives, is a change too (before, only the link's
    directory was watched, and such an edit was never applied)."""
    found = [_directory(file), *(t.parent for t in _targets(file))]
    return [d for i, d in enumerate(found) if d not in found[:i] and d.is_dir()]


async def watch(
    file: Path, reload: Callable[[str], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Reload on every (debounced) change until ``stop`` is set; the directories watched
    follow the links when they are re-pointed."""
    from watchfiles import awatch

    while not stop.is_set():
        watched = directories(file), _targets(file)
        try:
            async for _changes in awatch(
                *watched[0],
                watch_filter=relevant(file),
                debounce=DEBOUNCE_MS,
                step=50,
                recursive=False,
                stop_event=stop,
            ):
                await reload("file changed")
                if (directories(file), _targets(file)) != watched:
                    break  # a link now leads elsewhere: watch there
            else:
                return  # stopped
        except Exception as exc:  # the watcher is a convenience: SIGHUP and the API still work
            log.warning("config file not watched", file=str(file), error=str(exc))
            return
