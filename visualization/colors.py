"""A stable colour per class: the same label gets the same colour in every image, run and process."""
from __future__ import annotations

import colorsys


def class_color(label: int) -> tuple[int, int, int]:
    """RGB colour of ``label``: hues spaced by the golden angle, so neighbouring ids look different."""
    hue = (label * 0.618033988749895) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(red * 255), int(green * 255), int(blue * 255)
