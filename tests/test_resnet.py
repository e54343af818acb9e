"""ResNet classifiers: module tree, parameter names, seeded init and outputs equal torchvision's."""
import pytest
import torch
import torchvision

import maskrcnn


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_parameter_names_and_module_tree_equal_torchvision(name):
    ours = getattr(maskrcnn, name)()
    ref = getattr(torchvision.models, name)(weights=None)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [type(m).__name__ for _, m in ours.named_modules()] == [type(m).__name__ for _, m in ref.named_modules()]


@pytest.mark.parametrize("name, num_classes, expected_params", [("resnet18", 10, 11_181_642),
                                                                 ("resnet50", 101, None)])
def test_classifier_with_new_head_equals_torchvision(name, num_classes, expected_params):
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    torch.manual_seed(0)
    ours = getattr(maskrcnn, name)(num_classes=num_classes)
    for (n, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), n  # seeded construction draws the same numbers
    if expected_params is not None:
        assert sum(p.numel() for p in ours.parameters()) == expected_params
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    ours.train()
    ref.train()
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)  # batch statistics
    ours.eval()
    ref.eval()
    # eval folds batch norm into the convolutions: the same algebra, rounded differently in float32
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_transfer_learning_from_an_imagenet_file(tmp_path):
    """The Caltech-101 recipe: ImageNet weights, a new 101-class head; everything but fc loads."""
    imagenet = torchvision.models.resnet50(weights=None)
    torch.save(imagenet.state_dict(), tmp_path / "resnet50.pth")
    ours = maskrcnn.resnet50(weights=tmp_path / "resnet50.pth", num_classes=101)
    assert ours.fc.out_features == 101
    assert torch.equal(ours.layer4[2].conv3.weight, imagenet.layer4[2].conv3.weight)
    ours.fc = torch.nn.Linear(ours.fc.in_features, 101)  # the usual recipe line runs unchanged
    for p in ours.parameters():
        p.requires_grad_(False)
    ours.fc.requires_grad_(True)
    ours(torch.rand(1, 3, 64, 64)).sum().backward()
    assert ours.fc.weight.grad is not None and ours.layer4[0].conv1.weight.grad is None


def test_fashion_mnist_recipe_runs_unchanged():
    """ResNet-18 on 1-channel 28x28 images: swap conv1 for 1 channel, a 10-class head, one SGD step."""
    model = maskrcnn.resnet18(num_classes=10)
    model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 3, 9, 1])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    assert model(x).shape == (4, 10)
