"""Worker processes that do not outlive the process that started them.

``rankrl data build --num-proc N`` renders prompts in ``ProcessPoolExecutor`` workers. A pool worker blocks reading
its task queue; with the ``spawn`` start method it holds both ends of that queue's pipe, so when the main process
is killed (``kill -9``, the OOM killer, a scheduler) the read never ends and the workers (~256 MB each with a
tokenizer) stay forever. ``die_with_parent`` asks the Linux kernel to kill the worker when its parent exits
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``); elsewhere it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Have this process killed when its parent process exits (Linux). Returns whether that is now arranged.

    ``parent_pid``: the expected parent (default: the ``multiprocessing`` parent of this worker); if it is already
    gone (it died while this worker was starting, before the request took effect), exit now."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import multiprocessing

    if parent_pid is None and multiprocessing.parent_process() is not None:
        parent_pid = multiprocessing.parent_process().pid

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
            if parent_pid is not None and os.getppid() != parent_pid:
                os._exit(1)  # the parent died before the request took effect
            return True
    return False
