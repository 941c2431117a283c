"""``$ODDSIGHT_THREADS``: how many threads one video's encoder and live decoder may use (default: the libraries'
own choice, every core). ``oddsight serve`` sets 1 in each camera process and actor: many cameras share the cores,
and one thread each costs less CPU per frame than threads that wait on each other (720p H.264: 0.80 ms of CPU a
frame decoded on one thread, 1.02 ms with FFmpeg's frame threads, measured on this 2-core machine)."""

from __future__ import annotations

import os

THREADS_ENV = "ODDSIGHT_THREADS"


def threads() -> int:
    """The threads asked for with ``$ODDSIGHT_THREADS``; 0 when not set (or not a positive number)."""
    try:
        return max(int(os.environ.get(THREADS_ENV, "0")), 0)
    except ValueError:
        return 0
