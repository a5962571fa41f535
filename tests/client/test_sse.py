"""
Tests for pserv.client.sse: server-sent events read from a stream's bytes.
"""

import pytest

from pserv.client.sse import EventStreamParser, Message


def parsed(*chunks: bytes) -> tuple[list[Message], EventStreamParser]:
    messages: list[Message] = []
    parser = EventStreamParser(messages.append)
    for chunk in chunks:
        parser.feed(chunk)
    return messages, parser


def test_the_regions_events_are_read():
    """retry, comments and id/event/data messages as the region sends them: events with their ids."""
    messages, parser = parsed(b"retry: 2000\n\n: keep-alive\n\nid: 7\nevent: event\ndata: {\"id\":7}\n\n")
    assert messages == [Message("event", '{"id":7}', "7")]
    assert (parser.retry, parser.last_id) == (2000, "7")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1000])
def test_chunks_split_anywhere(size):
    """However the bytes are split (inside a line, a CR LF, a UTF-8 character), the events are the same."""
    stream = "id: 1\r\ndata: caf\u00e9\r\n\r\nid: 2\rdata: a\rdata: b\r\rid: 3\ndata:c\n\n".encode()
    messages, _ = parsed(*[stream[i:i + size] for i in range(0, len(stream), size)])
    assert messages == [Message("message", "caf\u00e9", "1"), Message("message", "a\nb", "2"),
                        Message("message", "c", "3")]


def test_an_event_without_data_sets_the_id_but_is_not_dispatched():
    """A block of only an id moves the last id on; nothing is dispatched; an unfinished event waits."""
    messages, parser = parsed(b"id: 9\n\ndata: half")
    assert messages == [] and parser.last_id == "9"
    parser.feed(b"\n\n")
    assert messages == [Message("message", "half", "9")]


def test_fields_are_read_as_the_standard_says():
    """A leading BOM is skipped, one space after the colon is dropped, unknown fields, a bad retry and an id with NUL ignored."""
    messages, parser = parsed(b"\xef\xbb\xbfdata:  two spaces\nretry: soon\nid: a\0b\nfoo: bar\ndata\n\n")
    assert messages == [Message("message", " two spaces\n", None)]
    assert parser.retry is None and parser.last_id is None
