"""Drawing instances (translucent masks, boxes, captions) and tiling previews, with OpenCV."""
from .colors import class_color
from .draw import draw_instances, draw_prediction, draw_target
from .grid import image_grid, write_rgb
from .html_report import write_report
from .inspection_views import View, inspection_views

__all__ = ["class_color", "draw_instances", "draw_prediction", "draw_target", "image_grid", "write_rgb",
           "write_report", "View", "inspection_views"]
