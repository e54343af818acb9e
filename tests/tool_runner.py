"""Running the command-line tools for real, as subprocesses, the way a user does."""
from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(REPO, "tools")
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
#: A model small enough to train for a few steps in seconds.
TINY_MODEL = ["--min-size", "64", "--max-size", "96", "--batch-size", "2", "--workers", "0"]


def tool(name, *args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout)
