"""Running the command-line tools for real, as subprocesses, the way a user does."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(REPO, "tools")
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
#: A model small enough to train for a few steps in seconds.
TINY_MODEL = ["--min-size", "64", "--max-size", "96", "--batch-size", "2", "--workers", "0"]


def tool(name, *args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``env``: variables set for this run on top of the test environment."""
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**ENV, **(env or {})}, timeout=timeout)


def refused(name, *args, cwd=None) -> subprocess.CompletedProcess:
    """A tool call that the tool refuses (a user mistake found before any work), run in this process: the same
    ``main`` and ``_common.run`` as :func:`tool`, without the ~4 s a fresh interpreter spends importing torch.

    Returns what :func:`tool` returns (exit status, stdout, stderr). An exception that escapes the tool propagates
    (where a user would see a traceback, the test fails).
    """
    path = os.path.join(TOOLS, name)
    saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), os.getcwd()
    saved_handlers = list(logging.getLogger().handlers)
    out, err = io.StringIO(), io.StringIO()
    status = 0
    try:
        sys.argv = [path, *map(str, args)]
        sys.path.insert(0, TOOLS)
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.chdir(saved_cwd)
        logging.getLogger().handlers[:] = saved_handlers
    return subprocess.CompletedProcess(sys.argv, status, out.getvalue(), err.getvalue())
