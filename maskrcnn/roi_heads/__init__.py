"""Second-stage heads: box and mask branches with their losses and post-processing."""
from .box_head import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead
from .box_loss import fastrcnn_loss
from .mask_head import MaskRCNNHeads, MaskRCNNPredictor
from .mask_loss import maskrcnn_loss
from .mask_paste import paste_masks_in_image
from .roi_heads import RoIHeads
