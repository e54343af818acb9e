"""Looking inside: every stage of one image through a detector (``inspection``), and how well a model's anchors
cover a dataset's boxes (``anchor_coverage``)."""
from .anchor_coverage import anchor_coverage, input_anchors
from .inspection import Inspection, inspect

__all__ = ["Inspection", "anchor_coverage", "input_anchors", "inspect"]
