import os

import pytest
import torch

# Two cores on every machine: keep torch from oversubscribing them.
torch.set_num_threads(int(os.environ.get("MASKRCNN_TEST_THREADS", "2")))


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory):
    """A tiny built-in shapes dataset (8 train, 4 val images of 64 x 96) in the COCO-2017 layout."""
    from dataset import ShapesConfig, generate_shapes_dataset
    config = ShapesConfig(image_size=(64, 96), object_size=(14, 40), objects_per_image=(1, 3))
    return generate_shapes_dataset(str(tmp_path_factory.mktemp("data") / "shapes"), num_train=8, num_val=4, seed=1,
                                   config=config)
