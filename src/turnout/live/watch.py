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
    """The file itself, the ``.env`` beside it, and Kubernetes' ``..data``-style links."""
    name = file.name

    def keep(change: object, path: str) -> bool:
        base = Path(path).name
        return base == name or base == ".env" or base.startswith("..")

    return keep


def _directory(file: Path) -> Path:
    return Path(os.path.abspath(file)).parent  # not resolved: a symlinked file's link is here


async def watch(
    file: Path, reload: Callable[[str], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Reload on every (debounced) change until ``stop`` is set."""
    from watchfiles import awatch

    directory = _directory(file)
    try:
        async for _changes in awatch(
            directory,
            watch_filter=relevant(file),
            debounce=DEBOUNCE_MS,
            step=50,
            recursive=False,
            stop_event=stop,
        ):
            await reload("file changed")
    except Exception as exc:  # the watcher is a convenience: SIGHUP and the API still work
        log.warning("config file not watched", file=str(file), error=str(exc))
