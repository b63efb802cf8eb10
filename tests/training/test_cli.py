"""The command line's parsers: every option documents its default, and the
first free run directory is chosen for a new run."""

import argparse

import pytest

from training.cli import _HelpFormatter
from training.cli import build_parser
from training.cli import free_run_dir
from training.common.run_directory import RunDirectory


def _subparsers(parser):
    for action in parser._actions:  # argparse offers no public walk
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subparsers(sub)


def test_every_option_of_every_subcommand_shows_its_default():
    commands = dict(_subparsers(build_parser()))
    assert {"train", "evaluate", "classify", "sweep", "table1", "figure3"} <= set(commands)
    for name, parser in commands.items():
        formatter = _HelpFormatter(name)
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                text = formatter._get_help_string(action)
                assert "(default" in text, (name, action.option_strings, text)
                assert text.count("(default") == 1, (name, action.option_strings, text)


def test_free_run_dir_takes_the_first_name_without_a_run(tmp_path):
    stem = tmp_path / "runs" / "detection"
    assert free_run_dir(stem) == stem
    for path in (stem, tmp_path / "runs" / "detection2"):
        RunDirectory(path).claim({"experiment": "detection", "config": {}})
    (tmp_path / "runs" / "detection3").mkdir()  # an empty directory holds no run
    assert free_run_dir(stem) == tmp_path / "runs" / "detection3"


@pytest.mark.parametrize("argv", [["sweep"], ["train", "--epochs", "x"], ["nothing"]])
def test_usage_errors_exit_with_code_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(argv)
    assert raised.value.code == 2 and "usage:" in capsys.readouterr().err


def test_resume_refuses_options_it_would_ignore(tmp_path, capsys):
    from training.cli import main

    assert main(["train", "--resume", str(tmp_path), "--epochs", "30", "--seed", "3"]) == 2
    assert capsys.readouterr().err == (
        f"error: --resume continues {tmp_path} with its own config.json; drop --epochs, --seed.\n"
    )
    assert main(["classify", "--resume", str(tmp_path)]) == 2  # no run there
    assert "not a run directory" in capsys.readouterr().err
