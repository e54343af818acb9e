"""Bad inputs to the model raise clear errors that name the image and the box, as torchvision's checks do."""
import pytest
import torch

from tests.model_fixtures import model_pair, random_images, targets_for


@pytest.fixture(scope="module")
def model():
    return model_pair(dtype=torch.float32)[1]


def test_missing_targets_in_training(model):
    model.train()
    with pytest.raises(ValueError, match="targets should not be None when in training mode"):
        model(random_images([(100, 120)], dtype=torch.float32))


def test_wrong_box_shape_names_the_image(model):
    model.train()
    sizes = [(100, 120), (110, 100)]
    targets = targets_for(sizes, dtype=torch.float32)
    targets[1]["boxes"] = torch.zeros(4)
    with pytest.raises(ValueError, match=r"shape \[N, 4\], got \[4\] for image 1"):
        model(random_images(sizes, dtype=torch.float32), targets)


def test_degenerate_box_names_the_image_and_the_box(model):
    model.train()
    sizes = [(100, 120), (110, 100)]
    targets = targets_for(sizes, dtype=torch.float32)
    targets[1]["boxes"][1] = torch.tensor([50.0, 40.0, 50.0, 80.0])  # zero width
    with pytest.raises(ValueError, match=r"invalid box \[.*\] \(box 1\) for target at index 1"):
        model(random_images(sizes, dtype=torch.float32), targets)


def test_wrong_target_dtypes_and_image_types(model):
    model.train()
    sizes = [(100, 120)]
    targets = targets_for(sizes, dtype=torch.float32)
    targets[0]["labels"] = targets[0]["labels"].int()
    with pytest.raises(TypeError, match="target labels must of int64 type"):
        model(random_images(sizes, dtype=torch.float32), targets)
    model.eval()
    with pytest.raises(TypeError, match="floating type"):
        model([torch.zeros(3, 50, 50, dtype=torch.uint8)])
    with pytest.raises(ValueError, match=r"3d tensors of shape \[C, H, W\], got \[1, 3, 50, 50\] for image 0"):
        model([torch.zeros(1, 3, 50, 50)])


def test_torchvisions_validation_cases_raise_its_assertion_error_on_a_keypoint_rcnn():
    """torchvision's detection-model validation test, on a Keypoint R-CNN: targets missing, boxes not a tensor, of
    the wrong shape, or degenerate each raise the ``AssertionError`` its ``torch._assert`` raises, which is also
    our ``ValueError`` (``TypeError`` for the type) naming the image."""
    import maskrcnn
    torch.manual_seed(0)
    model = maskrcnn.KeypointRCNN(maskrcnn.resnet_fpn_backbone(backbone_name="resnet18", weights=None),
                                  num_classes=50).train()
    images = [torch.rand(3, 300, 300)]
    with pytest.raises(AssertionError, match="targets should not be None"):
        model(images)
    with pytest.raises(AssertionError, match="of type Tensor") as raised:
        model(images, targets=[{"boxes": 0.0}])
    assert isinstance(raised.value, TypeError)
    for boxes in (torch.rand((4,)), torch.rand((1, 5))):
        with pytest.raises(AssertionError, match=r"shape \[N, 4\]") as raised:
            model(images, targets=[{"boxes": boxes}])
        assert isinstance(raised.value, ValueError)
    with pytest.raises(AssertionError, match="positive height and width"):
        model(images, targets=[{"boxes": torch.tensor([[1, 3, 1, 4], [2, 4, 3, 4]])}])
