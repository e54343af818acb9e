"""Second-stage heads: box, mask and keypoint branches with their losses and post-processing."""
from .box_head import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead
from .box_loss import fastrcnn_loss
from .keypoint_head import KeypointRCNNHeads, KeypointRCNNPredictor
from .keypoint_loss import keypointrcnn_loss, keypoints_to_heatmap
from .keypoint_postprocess import heatmaps_to_keypoints, keypointrcnn_inference
from .mask_head import MaskRCNNHeads, MaskRCNNPredictor
from .mask_loss import maskrcnn_loss, project_masks_on_boxes
from .mask_paste import expand_boxes, paste_masks_in_image
from .mask_postprocess import maskrcnn_inference
from .roi_heads import RoIHeads

__all__ = ["FastRCNNConvFCHead", "FastRCNNPredictor", "KeypointRCNNHeads", "KeypointRCNNPredictor", "MaskRCNNHeads",
           "MaskRCNNPredictor", "RoIHeads", "TwoMLPHead", "expand_boxes", "fastrcnn_loss", "heatmaps_to_keypoints",
           "keypointrcnn_inference", "keypointrcnn_loss", "keypoints_to_heatmap", "maskrcnn_inference",
           "maskrcnn_loss", "paste_masks_in_image", "project_masks_on_boxes"]
