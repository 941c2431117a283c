"""Run an iterator in a background thread behind a bounded queue, so decoding overlaps inference."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterator[T], maxsize: int = 4) -> Iterator[T]:
    """Yield ``items`` as produced by a worker thread, holding at most ``maxsize`` ahead.

    Exceptions raised by the producer are re-raised in the consumer. Closing the generator
    early (break, error) stops the worker at its next item.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    break
        except BaseException as exc:  # handed to the consumer
            put(_Failure(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()
        put(_DONE)

    thread = threading.Thread(target=work, name="oddsight-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)
