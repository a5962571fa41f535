"""
Tests for pserv.client.parser.
"""

import pytest

from pserv.cli_support import OneLineParser
from pserv.client.parser import add_client_commands, build_parser, is_client_command


def test_global_options_go_before_or_after_the_command():
    """--url, --token and --json work before the command and after it."""
    before = build_parser().parse_args(["--url", "http://r", "--token", "t", "--json", "nodes", "list"])
    after = build_parser().parse_args(["nodes", "list", "--url", "http://r", "--token", "t", "--json"])
    for args in (before, after):
        assert (args.api_url, args.api_token, args.json) == ("http://r", "t", True)
    plain = build_parser().parse_args(["nodes", "list"])
    assert (plain.api_url, plain.api_token, plain.json) == (None, None, False)


@pytest.mark.parametrize("argv, message", [
    (["nodes"], "pserv nodes: error: the following arguments are required: SUBCOMMAND"),
    (["power", "reboot", "n1"], "argument ACTION: invalid choice: 'reboot'"),
    (["power", "on"], "the following arguments are required: NODE"),
    (["power", "on", "n1", "--timeout", "0"], "argument --timeout: must be more than 0"),
    (["nodes", "list", "--limit", "many"], "argument --limit: expected a number, not 'many'"),
    (["nodes", "add", "--name", "n1"], "the following arguments are required: --power-type"),
    (["actions", "show", "ten"], "argument ID: invalid int value: 'ten'"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    """Usage errors exit 2 with one line on stderr naming the problem."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and message in err


def test_hooks_into_a_parser_with_other_commands():
    """Added to a parser that has a demo command, the demo still parses and is not a client command."""
    parser = OneLineParser(prog="pserv")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo").add_argument("--nodes", type=int, default=4)
    add_client_commands(parser, commands)
    demo = parser.parse_args(["demo", "--nodes", "2"])
    assert (demo.command, demo.nodes, is_client_command(demo)) == ("demo", 2, False)
    assert is_client_command(parser.parse_args(["power", "soft-off", "n1"]))
