"""A single self-contained HTML report: images inline, CSS inline, no JavaScript.

The file opens from disk in any browser and can be mailed or archived on its own::

    report = Report("eusaug demo")
    report.section("Synthetic images", "One row per landmark.")
    report.image_grid([[ct, sim]], row_labels=["liver"], col_labels=["CT plane", "raysim"])
    report.table("fid.csv", caption="FID with controls")
    report.key_values({"seed": 0, "eusaug": "0.1.0"}, caption="Configuration")
    report.write("out/report.html")

Every text is HTML-escaped; images are embedded as base64 ``data:`` URIs (PNG or JPEG
files, numpy arrays, or matplotlib figures), so the report refers to nothing outside it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from eusaug.errors import EusaugError
from eusaug.io.atomic import write_text
from eusaug.io.html_tables import escape, format_cell, table_html
from eusaug.io.images import encode_png


class _Figure(Protocol):
    def savefig(self, fname: Any, **kwargs: Any) -> None: ...


#: What can be shown as an image: a PNG/JPEG path, an array (``(H, W)`` or ``(H, W, 3)``;
#: uint8 as is, floats as [-1, 1]), or a matplotlib figure.
ImageLike = str | os.PathLike | np.ndarray | _Figure

_MIME_BY_SIGNATURE = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d232b; background: #f5f6f8; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 48px; background: #fff;
       box-shadow: 0 0 0 1px #e3e6ea; min-height: 100vh; box-sizing: border-box; }
h1 { font-size: 28px; margin: 0 0 4px; }
.subtitle { color: #5b6573; margin: 0 0 18px; }
h2 { font-size: 21px; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p { margin: 6px 0 10px; max-width: 78ch; }
nav.toc { background: #f7f8fa; border: 1px solid #e3e6ea; border-radius: 6px; padding: 10px 18px; }
nav.toc ol { margin: 4px 0; padding-left: 20px; }
nav.toc a { color: #1f5fbf; text-decoration: none; }
figure { margin: 12px 0 18px; }
figcaption { color: #5b6573; font-size: 13px; margin-top: 4px; }
img { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
/* Data tables fit the page: text wraps at spaces, underscores and slashes (<wbr>), paths anywhere. */
table.data { width: auto; max-width: 100%; table-layout: auto; }
table.data th, table.data td { overflow-wrap: break-word; word-break: normal; hyphens: none; }
table.data td.path { overflow-wrap: anywhere; }
table.data td.long { min-width: 11em; }
table.data.dense { font-size: 12px; }
table.data.dense th, table.data.dense td { padding: 3px 4px; }
th, td { padding: 3px 7px; border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
thead th { background: #f0f2f5; border-bottom: 2px solid #d5dae0; font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num span.nb { white-space: nowrap; }
td.path { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
td.flag { background: #fdf0d5 !important; }
th abbr { text-decoration: underline dotted; cursor: help; }
sup.ref { color: #1f5fbf; font-size: 11px; }
ol.table-notes { list-style: none; margin: 2px 0 8px; padding-left: 12px; font-size: 13px; color: #3a4350; max-width: none; }
ol.table-notes li { margin: 2px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table.grid { border-collapse: separate; border-spacing: 6px; }
table.grid td, table.grid th { border: 0; padding: 0; background: none !important; }
table.grid thead th { background: none; text-align: center; font-weight: 600; padding-bottom: 2px; }
table.grid th.row { writing-mode: horizontal-tb; text-align: right; padding-right: 6px;
                    vertical-align: middle; font-weight: 600; white-space: nowrap; }
table.grid img { background: #000; border-radius: 3px; }
.empty { background: #eef0f3; border-radius: 3px; color: #8a94a3; font-size: 12px;
         display: flex; align-items: center; justify-content: center; }
.box { border-left: 4px solid #3b82c4; background: #eef5fc; padding: 8px 14px; margin: 12px 0;
       border-radius: 0 6px 6px 0; }
.box.warning { border-color: #d08a12; background: #fdf5e6; }
.box strong { display: block; margin-bottom: 2px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 8px 0;
        font-size: 14px; }
dl.kv dt { font-weight: 600; color: #3a4350; }
dl.kv dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
           word-break: break-word; white-space: pre-wrap; }
footer { margin-top: 40px; color: #8a94a3; font-size: 12px; }
"""


def _paragraphs(text: str) -> str:
    """Blank-line separated paragraphs; single newlines become line breaks."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return "".join("<p>" + "<br>".join(escape(line) for line in b.splitlines()) + "</p>" for b in blocks)


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def image_data_uri(image: ImageLike) -> tuple[str, tuple[int, int] | None]:
    """``(data URI, (width, height) or None)`` for a path, array or matplotlib figure."""
    size: tuple[int, int] | None = None
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise EusaugError(f"Report image must be (H, W) or (H, W, 3|4), got shape {image.shape}.")
        data, mime, size = encode_png(image), "image/png", (int(image.shape[1]), int(image.shape[0]))
    elif hasattr(image, "savefig"):
        buffer = io.BytesIO()
        image.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # type: ignore[union-attr]
        data, mime = buffer.getvalue(), "image/png"
    else:
        path = Path(image)  # type: ignore[arg-type]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise EusaugError(f"Report image {path} does not exist: check the path.") from None
        except OSError as exc:
            raise EusaugError(f"Report image {path} cannot be read ({exc}).") from None
        mime = next((m for sig, m in _MIME_BY_SIGNATURE if data.startswith(sig)), "")
        if not mime:
            raise EusaugError(f"Report image {path} is not a PNG or JPEG file: convert it to PNG.")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", size


def _img_tag(image: ImageLike, alt: str, width_px: int | None) -> str:
    uri, size = image_data_uri(image)
    attrs = f' src="{uri}" alt="{escape(alt)}"'
    if width_px is not None:
        attrs += f' width="{int(width_px)}"'
    elif size is not None:
        attrs += f' width="{size[0]}" height="{size[1]}"'
    return f"<img{attrs}>"


@dataclass
class _Block:
    html: str
    heading: tuple[str, str] | None = None  # (anchor, text) for the table of contents


class Report:
    """Builds one HTML page block by block; :meth:`write` saves it atomically.

    Methods return the report, so calls can be chained. ``toc`` adds a table of contents
    of the section headings at the top.
    """

    def __init__(self, title: str, subtitle: str | None = None, toc: bool = True, footer: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.toc = toc
        self.footer = footer
        self._blocks: list[_Block] = []
        self._anchors: set[str] = set()

    # -- content ----------------------------------------------------------------------
    def section(self, heading: str, text: str | None = None) -> Report:
        """A section heading (listed in the table of contents) and optional paragraphs."""
        anchor = _slug(heading, self._anchors)
        body = f'<h2 id="{anchor}">{escape(heading)}</h2>' + (_paragraphs(text) if text else "")
        self._blocks.append(_Block(body, (anchor, heading)))
        return self

    def subheading(self, heading: str) -> Report:
        """A smaller heading inside a section (not in the table of contents)."""
        self._blocks.append(_Block(f"<h3>{escape(heading)}</h3>"))
        return self

    def paragraph(self, text: str) -> Report:
        """Text; blank lines separate paragraphs."""
        self._blocks.append(_Block(_paragraphs(text)))
        return self

    def image(self, image: ImageLike, caption: str | None = None, width_px: int | None = None) -> Report:
        """One image (path, array or matplotlib figure) with an optional caption."""
        tag = _img_tag(image, caption or "image", width_px)
        cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        self._blocks.append(_Block(f"<figure>{tag}{cap}</figure>"))
        return self

    def image_grid(
        self,
        images: Sequence[Sequence[ImageLike | None]],
        row_labels: Sequence[str] | None = None,
        col_labels: Sequence[str] | None = None,
        caption: str | None = None,
        cell_px: int = 180,
    ) -> Report:
        """Rows of images with row and column labels; ``None`` leaves a labelled gap.

        E.g. one row per landmark and the columns CT plane | raysim | CycleGAN | real frame.
        """
        n_cols = max((len(row) for row in images), default=0)
        if row_labels is not None and len(row_labels) != len(images):
            raise EusaugError(f"Report grid: {len(row_labels)} row labels for {len(images)} rows.")
        if col_labels is not None and len(col_labels) != n_cols:
            raise EusaugError(f"Report grid: {len(col_labels)} column labels for {n_cols} columns.")
        parts = ['<figure><div class="scroll"><table class="grid">']
        if col_labels is not None:
            corner = "<th></th>" if row_labels is not None else ""
            parts.append("<thead><tr>" + corner + "".join(f"<th>{escape(c)}</th>" for c in col_labels) + "</tr></thead>")
        parts.append("<tbody>")
        for r, row in enumerate(images):
            parts.append("<tr>")
            if row_labels is not None:
                parts.append(f'<th class="row" scope="row">{escape(row_labels[r])}</th>')
            for c in range(n_cols):
                item = row[c] if c < len(row) else None
                if item is None:
                    style = f"width:{cell_px}px;height:{cell_px}px"
                    parts.append(f'<td><div class="empty" style="{style}">not available</div></td>')
                else:
                    alt = " / ".join(x for x in (
                        row_labels[r] if row_labels is not None else "",
                        col_labels[c] if col_labels is not None else "") if x)
                    parts.append(f"<td>{_img_tag(item, alt or 'image', cell_px)}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table></div>")
        if caption:
            parts.append(f"<figcaption>{escape(caption)}</figcaption>")
        parts.append("</figure>")
        self._blocks.append(_Block("".join(parts)))
        return self

    def table(
        self,
        rows: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
        caption: str | None = None,
        columns: Sequence[str] | None = None,
        float_digits: int = 4,
        note_columns: Sequence[str] | None = None,
        flag: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Report:
        """A table from dict rows or a CSV file; columns in first-seen order unless given.

        Floats show ``float_digits`` significant digits (the CSV keeps them all). Text in
        ``note_columns`` (default: columns named note, notes, comment, remark, warning) is
        said once under the table: a note shared by every row replaces the column, else
        rows carry a numbered marker. Rows for which ``flag`` is true are highlighted.
        """
        self._blocks.append(_Block(table_html(rows, caption, columns, float_digits, note_columns, flag)))
        return self

    def note(self, text: str, kind: Literal["note", "warning"] = "note", title: str | None = None) -> Report:
        """A highlighted box: ``note`` (blue) or ``warning`` (amber)."""
        if kind not in ("note", "warning"):
            raise EusaugError(f"Report note kind {kind!r} is unknown: use 'note' or 'warning'.")
        heading = title if title is not None else kind.capitalize()
        body = f"<strong>{escape(heading)}</strong>" if heading else ""
        self._blocks.append(_Block(f'<div class="box {kind}" role="note">{body}{_paragraphs(text)}</div>'))
        return self

    def key_values(self, items: Mapping[str, Any], caption: str | None = None) -> Report:
        """A two-column list (configuration, versions, timings); nested values shown as text."""
        parts = []
        if caption:
            parts.append(f"<h3>{escape(caption)}</h3>")
        parts.append('<dl class="kv">')
        for key, value in items.items():
            if isinstance(value, (float, np.floating)):
                text = format_cell(value, 6)[0]
            elif isinstance(value, (Mapping, list, tuple)):
                text = json.dumps(value, default=str)
            else:
                text = str(value)
            parts.append(f"<dt>{escape(key)}</dt><dd>{escape(text)}</dd>")
        parts.append("</dl>")
        self._blocks.append(_Block("".join(parts)))
        return self

    # -- output -----------------------------------------------------------------------
    def to_html(self) -> str:
        """The whole page as a string."""
        from eusaug.version import __version__

        head = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        )
        parts = [head, f"<h1>{escape(self.title)}</h1>"]
        if self.subtitle:
            parts.append(f'<p class="subtitle">{escape(self.subtitle)}</p>')
        headings = [b.heading for b in self._blocks if b.heading]
        if self.toc and len(headings) > 1:
            items = "".join(f'<li><a href="#{a}">{escape(t)}</a></li>' for a, t in headings)
            parts.append(f'<nav class="toc"><strong>Contents</strong><ol>{items}</ol></nav>')
        parts.extend(b.html + "\n" for b in self._blocks)
        footer = self.footer if self.footer is not None else f"Written by eusaug {__version__}."
        parts.append(f"<footer>{escape(footer)}</footer>\n</main>\n</body>\n</html>\n")
        return "".join(parts)

    def write(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the page to ``path`` atomically; an existing file needs ``force``."""
        path = Path(path)
        if path.exists() and not force:
            raise EusaugError(f"Report {path} already exists: pass --force to replace it, or choose another path.")
        return write_text(path, self.to_html())
