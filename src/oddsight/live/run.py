"""Many cameras at once in one process: a thread per :class:`~oddsight.live.monitor.Monitor`."""

from __future__ import annotations

import threading

from oddsight.live.monitor import Monitor


def run_monitors(monitors: list[Monitor], max_seconds: float | None = None) -> list[BaseException]:
    """Run every monitor until its stream ends (or ``max_seconds`` of it, or Ctrl-C stops them all); their
    alert channels are closed at the end. Returns what went wrong in each failed monitor."""
    errors: list[BaseException] = []

    def run(m: Monitor) -> None:
        try:
            m.run(max_seconds=max_seconds)
        except BaseException as exc:  # handed to the caller, which reports it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(m,), daemon=True, name=f"oddsight-{m.camera}") for m in monitors]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        for m in monitors:
            m.stop()
        for t in threads:
            t.join(10)
    finally:
        for m in monitors:
            m.dispatch.close()
    return errors
