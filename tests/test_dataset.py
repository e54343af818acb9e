"""CocoInstanceDataset on a COCO-format fixture the test writes: every annotation kind, odd images, bad input."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO
from torch.utils.data import DataLoader, SequentialSampler

from dataset import CocoInstanceDataset, DatasetError, GroupedBatchSampler, aspect_ratio_groups, collate_fn, read_rgb

from tests.data_fixtures import write_tiny_coco


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_coco(str(tmp_path))


def item_by_image_id(dataset, image_id):
    return dataset[dataset.ids.index(image_id)]


def test_targets_follow_the_coco_conventions(tiny):
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    coco = COCO(tiny["ann_file"])
    image, target = item_by_image_id(dataset, 1)
    assert image.dtype == torch.float32 and image.shape == (3, 48, 64)
    assert 0.0 <= image.min() and image.max() <= 1.0
    # crowd (id 3), zero-area (id 4) are not targets; the others in annotation order: ids 1, 2, 5
    torch.testing.assert_close(target["boxes"], torch.tensor([[5, 12, 34, 25], [40, 30, 60, 40], [44, 2, 60, 12.]]))
    assert target["boxes"].dtype == torch.float32
    assert target["labels"].tolist() == [1, 2, 2]  # category ids 1, 3, 3: non-contiguous ids map to labels 1..K
    assert target["image_id"] == 1
    assert target["iscrowd"].tolist() == [0, 0, 0]
    torch.testing.assert_close(target["area"], torch.tensor([276.0, 200.0, 160.0]))
    assert target["masks"].dtype == torch.uint8 and target["masks"].shape == (3, 48, 64)
    # polygons with several parts and compressed RLE decode as pycocotools' own annToMask does
    np.testing.assert_array_equal(target["masks"][0].numpy(), coco.annToMask(coco.anns[1]))
    np.testing.assert_array_equal(target["masks"][1].numpy(), tiny["rle_mask"])
    assert target["masks"][0].sum() > 0 and coco.annToMask(coco.anns[1])[14:24, 26:33].any()  # the second part
    valid_part_only = dict(coco.anns[5], segmentation=coco.anns[5]["segmentation"][:1])
    np.testing.assert_array_equal(target["masks"][2].numpy(), coco.annToMask(valid_part_only))


def test_uncompressed_rle_grayscale_and_cmyk_images(tiny):
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    image, target = item_by_image_id(dataset, 2)
    assert image.shape == (3, 30, 40)
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])  # gray -> equal RGB channels
    gray = np.asarray(Image.open(os.path.join(tiny["image_dir"], "gray.jpg")))
    np.testing.assert_allclose(image[0].numpy() * 255, gray, atol=1e-3)
    np.testing.assert_array_equal(target["masks"][0].numpy(), tiny["gray_mask"])
    assert target["labels"].tolist() == [2]  # category 3 ("dog"); annotation 7 (only an invalid polygon) is dropped
    image, target = item_by_image_id(dataset, 4)
    assert image.shape == (3, 28, 36)
    pil_rgb = np.asarray(Image.open(os.path.join(tiny["image_dir"], "cmyk.jpg")).convert("RGB")).astype(float)
    assert np.abs(image.permute(1, 2, 0).numpy() * 255 - pil_rgb).mean() < 8  # same colours as Pillow's conversion


def test_report_counts_what_was_left_out(tiny):
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    report = dataset.report
    assert (report.crowd, report.no_area, report.no_segmentation, report.invalid_polygon_parts) == (1, 1, 1, 2)
    assert report.images_without_targets == 1


def test_empty_images_kept_for_evaluation_filtered_for_training(tiny):
    keep = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    assert keep.ids == [1, 2, 3, 4]
    image, target = item_by_image_id(keep, 3)
    assert target["boxes"].shape == (0, 4) and target["masks"].shape == (0, 32, 32)
    assert target["labels"].shape == (0,)
    train = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"], filter_empty=True)
    assert train.ids == [1, 2, 4]


def test_class_names_come_from_the_json(tiny):
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    assert dataset.class_names == ["__background__", "cat", "dog"]
    assert dataset.num_classes == 3 and dataset.categories.ids == (0, 1, 3)


def test_missing_layout_gives_one_line_with_the_download_hint(tiny, tmp_path):
    with pytest.raises(DatasetError, match="annotation file not found: .*nope.json.*cocodataset.org") as info:
        CocoInstanceDataset(tiny["image_dir"], str(tmp_path / "nope.json"))
    assert "\n" not in str(info.value)
    with pytest.raises(DatasetError, match="image folder not found: .*missing_dir.*instances_"):
        CocoInstanceDataset(str(tmp_path / "missing_dir"), tiny["ann_file"])
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(DatasetError, match="bad.json: not a readable COCO JSON"):
        CocoInstanceDataset(tiny["image_dir"], str(bad_json))


def test_size_mismatch_and_corrupt_images_name_the_file_or_are_skipped(tiny):
    Image.new("RGB", (10, 10)).save(os.path.join(tiny["image_dir"], "gray.jpg"), format="JPEG")
    with open(os.path.join(tiny["image_dir"], "cmyk.jpg"), "wb") as f:
        f.write(b"not an image")
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    with pytest.raises(DatasetError, match=r"gray.jpg: image is 10x10 but .*instances.json records 40x30"):
        item_by_image_id(dataset, 2)
    with pytest.raises(DatasetError, match=r"cmyk.jpg: not a readable image"):
        item_by_image_id(dataset, 4)
    skipping = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"], skip_bad_images=True)
    assert skipping.ids == [1, 3]
    assert [os.path.basename(p) for p in skipping.report.skipped_images] == ["gray.jpg", "cmyk.jpg"]
    assert "2 bad images skipped" in skipping.report.summary()


def test_truncated_image_past_its_header_is_skipped_when_read(tiny):
    path = os.path.join(tiny["image_dir"], "rgb.jpg")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 3])
    with pytest.raises(DatasetError, match="rgb.jpg: not a readable image"):
        read_rgb(path)
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"], skip_bad_images=True)
    assert 1 in dataset.ids  # its header is intact, so the up-front check keeps it ...
    image, target = dataset[dataset.ids.index(1)]
    assert target["image_id"] == 2  # ... and when it fails to decode, the next image stands in


def test_grouped_batch_sampler_yields_every_index_once_in_groups():
    ratios = [0.5, 2.0, 0.5, 1.0, 2.0, 0.5, 1.0, 2.0, 0.5, 1.3]
    groups = aspect_ratio_groups(ratios, k=3)
    assert groups[0] == groups[2] and groups[1] == groups[4] and groups[0] != groups[1]
    sampler = GroupedBatchSampler(SequentialSampler(range(len(ratios))), groups, batch_size=2)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(ratios)))
    assert len(batches) == len(sampler)
    full = [b for b in batches if len(b) == 2 and groups[b[0]] == groups[b[1]]]
    assert len(full) >= 4
    assert batches[0] == [0, 2]  # the first pair of one group, in sampler order
    assert aspect_ratio_groups(ratios, k=0) == [0] * len(ratios)


def test_multi_worker_dataloader(tiny):
    dataset = CocoInstanceDataset(tiny["image_dir"], tiny["ann_file"])
    groups = aspect_ratio_groups([dataset.aspect_ratio(i) for i in range(len(dataset))])
    sampler = GroupedBatchSampler(SequentialSampler(dataset), groups, batch_size=2)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=2, collate_fn=collate_fn)
    seen = []
    for images, targets in loader:
        assert isinstance(images, list) and len(images) == len(targets)
        for image, target in zip(images, targets):
            assert image.shape[1:] == target["masks"].shape[1:]
            seen.append(target["image_id"])
    assert sorted(seen) == [1, 2, 3, 4]
