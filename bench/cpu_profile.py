"""Run a module under cProfile with the main thread's CPU clock as the profiler's timer.

``python -m cProfile`` times with the wall clock, so a coroutine waiting on the network (or
the event loop waiting in epoll) is charged with the time it waited. Timing with
``time.thread_time`` charges only the CPU the gateway's own thread spent, which is what the
hot-path figures are about (other threads, such as the SQLite writer, are not profiled).

    python bench/cpu_profile.py OUT.prof -m turnout.cli.main serve ...
"""

from __future__ import annotations

import sys

# This file's folder holds bench/profile.py, which would shadow the standard library's
# ``profile`` module that cProfile imports.
sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("bench")]

import cProfile  # noqa: E402
import runpy  # noqa: E402
import time  # noqa: E402


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    assert flag == "-m", "usage: cpu_profile.py OUT -m MODULE ARGS..."
    sys.argv = [module, *rest]
    prof = cProfile.Profile(time.thread_time)
    prof.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        prof.disable()
        prof.dump_stats(out)


if __name__ == "__main__":
    main()
