"""``$ODDSIGHT_THREADS``: how many threads one video's encoder and decoder may use (default: the libraries' own
choice, every core; the decoder: one thread on a machine of two cores or fewer). ``oddsight serve`` sets 1 in each
camera process and actor: many cameras share the cores, and one thread each costs less CPU per frame than threads
that wait on each other (720p H.264: 0.80 ms of CPU a frame decoded on one thread, 1.02 ms with FFmpeg's frame
threads, measured on this 2-core machine)."""

from __future__ import annotations

import os

THREADS_ENV = "ODDSIGHT_THREADS"


def threads() -> int:
    """The threads asked for with ``$ODDSIGHT_THREADS``; 0 when not set (or not a positive number)."""
    try:
        return max(int(os.environ.get(THREADS_ENV, "0")), 0)
    except ValueError:
        return 0


def set_decoder_threads(stream) -> None:
    """Decode a PyAV video ``stream`` on ``$ODDSIGHT_THREADS`` threads; when not set, on one thread where the machine
    has two cores or fewer (the encoder needs the other core: a cold ``detect`` of 90 s of 720p took 2.8 s instead
    of 3.3-3.8 s with frame threads, measured here), else with FFmpeg's frame threads."""
    count = threads() or (1 if (os.cpu_count() or 1) <= 2 else 0)
    if count:
        stream.codec_context.thread_count = count
    else:
        stream.thread_type = "AUTO"
