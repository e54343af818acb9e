"""Running the command-line tools for real, the way a user does: in this process by default (the same script as
``__main__``), or in a fresh interpreter where only a process shows what is tested."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import subprocess
import sys
import warnings

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(REPO, "tools")
#: A fresh interpreter gets this process's share of the cores (tests/conftest.py).
ENV = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "PYTHONUNBUFFERED": "1"}
#: A model small enough to train for a few steps in seconds.
TINY_MODEL = ["--min-size", "64", "--max-size", "96", "--batch-size", "2", "--workers", "0"]


def tool(name, *args, cwd=None, timeout=300, env=None, fresh=False) -> subprocess.CompletedProcess:
    """Runs ``tools/<name>`` with ``args`` as a user does and returns its exit status, stdout and stderr.

    By default it runs in this process (:func:`in_process`: the tool's own ``__main__`` and ``_common.run``, its
    exit status and output, without the ~4 s a fresh interpreter spends importing torch and OpenCV). ``fresh=True``
    starts a new interpreter, for what only a process shows (signals, import-time failures, thread settings).
    ``env``: variables set for this run on top of the test environment.
    """
    if not fresh:
        return in_process(name, *args, cwd=cwd, env=env)
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**ENV, **(env or {})}, timeout=timeout)


def refused(name, *args, cwd=None) -> subprocess.CompletedProcess:
    """A tool call that the tool refuses (a user mistake found before any work)."""
    return in_process(name, *args, cwd=cwd)


def in_process(name, *args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Runs the tool's script as ``__main__`` in this process, as ``python tools/<name>`` would: ``sys.argv``,
    ``sys.path`` (the script's folder first), the working directory and ``env`` are set for the run and restored
    after it, stdout and stderr (prints, logging, tqdm, warnings) are captured.

    Returns what :func:`subprocess.run` returns (exit status, stdout, stderr). An exception that escapes the tool
    propagates: where a user would see a traceback, the test fails.
    """
    path = os.path.join(TOOLS, name)
    saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), os.getcwd()
    saved_handlers = list(logging.getLogger().handlers)
    saved_env = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    status = 0
    try:
        sys.argv = [path, *map(str, args)]
        sys.path.insert(0, TOOLS)
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("default")  # each warning shows as in a fresh process, not once per session
            # but pytest.ini's ignored one stays ignored (pycocotools' numpy-2 notice, not ours to fix)
            warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy keyword",
                                    DeprecationWarning)
            runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        logging.getLogger().handlers[:] = saved_handlers
    return subprocess.CompletedProcess(sys.argv, status, out.getvalue(), err.getvalue())
