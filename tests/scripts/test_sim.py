"""Tests for pserv.scripts.sim."""

import pytest

from pserv.scripts.sim import main, replay_command


def test_replay_command_keeps_the_world_and_names_the_seed():
    """The replay command keeps the other arguments and replaces the seed range by the seed."""
    argv = ["--seed", "0", "--seeds", "100", "--steps", "60", "--faults", "bmc-hang"]
    assert replay_command(42, argv) == "python -m pserv.sim --seed 42 --steps 60 --faults bmc-hang"


def test_one_seed_prints_a_summary(capsys):
    """A run of one seed prints its summary and exits 0 when every invariant held."""
    assert main(["--seed", "3", "--steps", "10", "--faults", "none"]) == 0
    assert '"digest"' in capsys.readouterr().out


def test_skew_is_part_of_the_world(capsys):
    """--skew sets how far the processes' clocks are off; 0 puts them all on the world's clock."""
    assert main(["--seed", "3", "--steps", "10", "--faults", "none", "--skew", "0"]) == 0
    out = capsys.readouterr().out
    assert '"region-1": 0.0' in out and '"region-2": 0.0' in out


@pytest.mark.parametrize("argv", [["--faults", "meteor"], ["--steps", "0"], ["--seed", "x"], ["--skew", "-1"],
                                  ["--regions", "0"], ["--grouped", "-1"]])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    """Bad arguments exit 2 with a one-line message, no traceback."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
