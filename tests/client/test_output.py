"""
Tests for pserv.client.output.
"""

from pserv.client.output import error, note, note_more, one_line, print_json, print_json_line


def test_one_line_removes_breaks_and_control_characters():
    """A server's message cannot break the line or send terminal escapes."""
    assert one_line("bad\nthing\x1b[2J  here\t") == "bad thing [2J here"


def test_error_and_note_are_one_line_on_stderr(capsys):
    """Errors and notes go to stderr, prefixed, one line each; stdout stays clean."""
    error("no such\nnode")
    note("3/10 done")
    assert capsys.readouterr() == ("", "pserv: error: no such node\npserv: 3/10 done\n")


def test_json_pretty_and_as_lines(capsys):
    """print_json indents; print_json_line writes one compact line."""
    print_json({"a": 1})
    print_json_line({"a": 1})
    assert capsys.readouterr().out == '{\n  "a": 1\n}\n{"a":1}\n'


def test_note_more_says_how_to_go_on(capsys):
    """A list cut short by --limit says which --after shows the rest; a complete one says nothing."""
    note_more({"items": [{"id": 4}, {"id": 9}], "next": "/api/v1/nodes?after=9"})
    note_more({"items": [{"id": 4}], "next": None})
    assert capsys.readouterr().err == "pserv: more: add --after 9\n"
