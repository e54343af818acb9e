import os

import torch

# Two cores on every machine: keep torch from oversubscribing them.
torch.set_num_threads(int(os.environ.get("MASKRCNN_TEST_THREADS", "2")))
