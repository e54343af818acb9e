"""Second-stage heads: box and mask branches with their losses and post-processing."""
from .box_head import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead
from .box_loss import fastrcnn_loss
from .mask_head import MaskRCNNHeads, MaskRCNNPredictor
from .mask_loss import maskrcnn_loss, project_masks_on_boxes
from .mask_paste import expand_boxes, paste_masks_in_image
from .mask_postprocess import maskrcnn_inference
from .roi_heads import RoIHeads

__all__ = ["FastRCNNConvFCHead", "FastRCNNPredictor", "MaskRCNNHeads", "MaskRCNNPredictor", "RoIHeads", "TwoMLPHead",
           "expand_boxes", "fastrcnn_loss", "maskrcnn_inference", "maskrcnn_loss", "paste_masks_in_image",
           "project_masks_on_boxes"]
