"""
Server-sent events read from the bytes of a ``text/event-stream``, as the
HTML standard's event stream interpretation reads them: lines end with
CR LF, LF or CR; ``:`` starts a comment; ``field: value`` sets ``event``,
``data`` (lines joined with LF), ``id`` or ``retry``; a blank line
dispatches the event, if it has data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

BOM = "\ufeff"


@dataclass(frozen=True)
class Message:
    """
    One dispatched event.

    :ivar event: its type (``message`` unless the stream named one).
    :ivar data: its data, lines joined with LF.
    :ivar id: the last event id the stream has set, if any.
    """

    event: str
    data: str
    id: str | None


class EventStreamParser:
    """
    Reads a stream's bytes as they come, chunks split anywhere, and hands
    each event to ``dispatch``.

    :ivar last_id: the last event id the stream has set (for
        ``Last-Event-ID``), kept across events.
    :ivar retry: the reconnection time the stream asked for, in
        milliseconds, if it did.
    """

    def __init__(self, dispatch: Callable[[Message], None]) -> None:
        self.dispatch = dispatch
        self.last_id: str | None = None
        self.retry: int | None = None
        self._pending = b""
        self._after_cr = False
        self._first = True
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, data: bytes) -> None:
        """Read ``data``, the next bytes of the stream."""
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = False
        self._pending += data
        while True:
            end = _line_end(self._pending)
            if end is None:
                return
            line, width = self._pending[:end], 2 if self._pending[end:end + 2] == b"\r\n" else 1
            if width == 1 and self._pending[end:end + 1] == b"\r" and end + 1 == len(self._pending):
                self._after_cr = True
            self._pending = self._pending[end + width:]
            self._line(line.decode("utf-8", "replace"))

    def _line(self, line: str) -> None:
        if self._first:
            self._first = False
            line = line.removeprefix(BOM)
        if not line:
            self._end_of_event()
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _end_of_event(self) -> None:
        if self._id is not None:
            self.last_id = self._id
        event, data = self._event or "message", self._data
        self._event, self._data, self._id = "", [], None
        if data:
            self.dispatch(Message(event, "\n".join(data), self.last_id))


def _line_end(buffer: bytes) -> int | None:
    """Where the first line of ``buffer`` ends (at its CR or LF), or ``None`` if no line has ended."""
    ends = [i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0]
    return min(ends) if ends else None
