"""Fixtures shared by the test packages."""

import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_locked_elsewhere():
    """`run_locked_elsewhere(run_dir)`: a context in which another process
    (a child Python) holds the run's `training_lock`, as a second command
    training that run would; yields the child's `Popen`, killed on exit."""

    @contextlib.contextmanager
    def hold(run_dir):
        holder = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(f"""
                import time
                from training.common.run_directory import RunDirectory
                with RunDirectory({str(run_dir)!r}).training_lock():
                    print("held", flush=True)
                    time.sleep(300)
            """)],
            stdout=subprocess.PIPE, text=True, cwd=REPO,
        )
        try:
            assert holder.stdout.readline().strip() == "held"
            yield holder
        finally:
            holder.kill()  # SIGKILL: the child never lets go itself.
            holder.wait()
            holder.stdout.close()

    return hold
