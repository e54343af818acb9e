"""A static HTML page of pictures with captions: relative links, no script, readable offline in any browser."""
from __future__ import annotations

import html
import os
from typing import Sequence

from .grid import write_rgb

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "figure{margin:2em 0}img{max-width:100%;border:1px solid #ccc}figcaption{margin-top:.4em;color:#444}"
         "h2{font-size:1.1em;margin-bottom:.3em}.note{background:#fff6d5;padding:.5em 1em}")


def write_report(folder: str, title: str, views: Sequence, notes: Sequence[str] = ()) -> str:
    """Writes ``<name>.png`` for every view and ``index.html`` showing them in order; returns the page's path."""
    os.makedirs(folder, exist_ok=True)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
    for view in views:
        write_rgb(os.path.join(folder, f"{view.name}.png"), view.picture)
        parts.append(f"<figure id='{view.name}'><h2>{html.escape(view.title)}</h2>"
                     f"<img src='{view.name}.png' alt='{html.escape(view.title)}'>"
                     f"<figcaption>{html.escape(view.caption)}</figcaption></figure>")
    parts.append("</body></html>")
    path = os.path.join(folder, "index.html")
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path
