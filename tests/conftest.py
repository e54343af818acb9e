import os
import sys
from pathlib import Path

import torch

# Tests import the repo's packages from the checkout, whether or not it is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Two cores on every machine: keep torch from oversubscribing them.
torch.set_num_threads(int(os.environ.get("MASKRCNN_TEST_THREADS", "2")))
