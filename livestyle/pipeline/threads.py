"""Thread helpers for the pipelines: workers whose errors reach the joining thread, and queue
hand-offs that never block forever."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

END = object()  # put after the last item: the consumer stops when it takes this


class Worker(threading.Thread):
    """A daemon thread that keeps its exception for the thread that joins it."""

    def __init__(self, name: str, target: Callable[[], None]):
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - handed over to the main thread, never lost
            self.error = exc


def put(q: queue.Queue, item, stop: threading.Event, consumer: threading.Thread | None = None) -> bool:
    """Put without ever blocking forever: gives up when asked to stop or the consumer died."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop.is_set() or (consumer is not None and not consumer.is_alive()):
                return False
