"""HTML building blocks of the report: the page, its sections, embedded figures and tables.

The page is one self-contained file: inline CSS, figures as base64 PNG data URIs, no script
and no reference to anything outside the file, so it opens offline and can be mailed.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import pandas as pd
from matplotlib.figure import Figure

#: Resolution of embedded figures: sharp on a laptop screen, about 60-120 kB per figure.
DPI = 100

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       margin: 0 auto; max-width: 1200px; padding: 0 24px 48px; line-height: 1.45; }
header { border-bottom: 2px solid #1f77b4; margin-bottom: 16px; }
h1 { margin: 24px 0 4px; }
h2 { margin-top: 40px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #666; margin: 0 0 12px; }
nav ol { columns: 2; margin: 0 0 8px; }
nav a, nav a:visited { color: #1f77b4; text-decoration: none; }
figure { margin: 12px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .how { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; margin: 12px 0; font-size: 0.92em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px; text-align: right; }
th { background: #f5f7fa; }
th:first-child, td:first-child { text-align: left; }
td { white-space: nowrap; }
table.glossary td:last-child,
table.glossary th:last-child { white-space: normal; text-align: left; }
.notice { background: #fff8e1; border-left: 4px solid #f0ad4e; padding: 8px 12px; }
"""


@dataclass(frozen=True)
class Section:
    """One titled part of the report; `body` is trusted HTML built by this package."""

    anchor: str
    title: str
    body: str


def image(figure: Figure, alt: str) -> str:
    """The figure as an ``<img>`` holding a base64 PNG (Agg renderer, no metadata)."""
    buffer = io.BytesIO()
    # No "Software" text chunk: the file then names no website, even inside the image.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    width, height = (round(size * DPI) for size in figure.get_size_inches())
    return (
        f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}" '
        f'width="{width}" height="{height}">'
    )


def figure(fig: Figure, caption: str) -> str:
    """An embedded figure with its caption (the caption is also the image's alt text)."""
    return f"<figure>{image(fig, caption)}<figcaption>{escape(caption)}</figcaption></figure>"


def paragraph(text: str, css_class: str = "how") -> str:
    """A paragraph of plain text."""
    return f'<p class="{css_class}">{escape(text)}</p>'


def notice(text: str) -> str:
    """A highlighted note: why a section or a figure is not shown."""
    return paragraph(text, "notice")


def table(frame: pd.DataFrame, css_class: str = "") -> str:
    """A table of the frame's cells as text (escaped); the index is not shown."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def page(title: str, meta: str, sections: Sequence[Section]) -> str:
    """The whole document: header, table of contents and the sections in order."""
    contents = "".join(f'<li><a href="#{s.anchor}">{escape(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{s.anchor}"><h2>{escape(s.title)}</h2>{s.body}</section>' for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>{paragraph(meta, 'meta')}"
        f"<nav><ol>{contents}</ol></nav></header>{body}</body></html>\n"
    )
