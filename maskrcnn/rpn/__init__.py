"""Region proposal network: anchors, head, proposal selection, loss."""
from .anchor_generator import AnchorGenerator
from .head import RPNHead
from .rpn import RegionProposalNetwork

__all__ = ["AnchorGenerator", "RPNHead", "RegionProposalNetwork"]
