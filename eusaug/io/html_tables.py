"""HTML data tables that fit a page: rounded numbers, wrapped identifiers, shortened paths, notes.

The table kit of :class:`eusaug.io.html_report.Report`, kept apart so the page builder stays
about layout and images while the rules for how a cell reads live here.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from eusaug.io.tables import read_csv_rows


def escape(text: object) -> str:
    """``text`` as HTML, quotes included, so it is safe in an element or an attribute."""
    return html.escape(str(text), quote=True)


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*|\s*[-+]?(nan|inf|infinity)\s*", re.IGNORECASE)
_INTEGER = re.compile(r"\s*[-+]?\d+\s*")

#: Columns whose text is a remark about the row, said once under the table.
NOTE_COLUMNS = ("note", "notes", "comment", "remark", "warning")
#: Headers longer than this are shortened, the full name in a tooltip.
MAX_HEADER_CHARS = 24
#: Tables with more columns than this use a smaller font and padding.
DENSE_COLUMNS = 12
#: Text cells longer than this get a minimum width (``td.long``, about ``WIDE_TEXT_PX``)
#: when the table's columns leave room for it in ``PAGE_WIDTH_PX`` (the page's text width).
LONG_TEXT_CHARS = 30
WIDE_TEXT_PX = 145
MIN_COLUMN_PX = 50
PAGE_WIDTH_PX = 1000
#: Path-like cells longer than this show their last two parts, the full path in a tooltip.
MAX_PATH_CHARS = 36


def format_number(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` significant digits: 0.6667, 12.35, 1.8e-16, 123457."""
    x = float(value)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits and abs(x) < 1e15:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def format_cell(value: object, float_digits: int) -> tuple[str, bool]:
    """(text, is_number) for a table cell; floats, also when written as text in a CSV, are rounded."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, (int, np.integer)):
        return str(int(value)), True
    if isinstance(value, (float, np.floating)):
        return format_number(float(value), float_digits), True
    text = str(value)
    if _INTEGER.fullmatch(text):
        return text.strip(), True
    if _NUMBER.fullmatch(text):
        return format_number(float(text), float_digits), True
    return text, False


def _looks_like_path(text: str) -> bool:
    return ("/" in text or "\\" in text) and " " not in text.strip() and len(text) > MAX_PATH_CHARS


def _short_path(text: str) -> str:
    parts = re.split(r"[/\\]", text.rstrip("/\\"))
    return "\u2026/" + "/".join(parts[-2:]) if len(parts) > 2 else text


def _number_html(text: str) -> str:
    """A number that may wrap only before its exponent: ``1.265`` / ``e-12``."""
    return "<wbr>".join(f'<span class="nb">{escape(part)}</span>' for part in re.split(r"(?=e)", text, maxsplit=1))


def _breakable(text: str) -> str:
    """Escaped ``text`` that may wrap after underscores and slashes (identifiers, paths)."""
    return "<wbr>".join(escape(part) for part in re.split(r"(?<=[_/])", text))


def _header_cell(column: str) -> str:
    """A header that wraps at underscores; a long one is abbreviated, the full name in a tooltip."""
    shown = column if len(column) <= MAX_HEADER_CHARS else column[: MAX_HEADER_CHARS - 1].rstrip("_ ") + "\u2026"
    body = _breakable(shown)
    if shown != column:
        body = f'<abbr title="{escape(column)}">{body}</abbr>'
    return f'<th scope="col">{body}</th>'


def table_html(
    rows: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    caption: str | None = None,
    columns: Sequence[str] | None = None,
    float_digits: int = 4,
    note_columns: Sequence[str] | None = None,
    flag: Callable[[Mapping[str, Any]], bool] | None = None,
) -> str:
    """A ``<figure>`` with one data table from dict rows or a CSV file (see :meth:`Report.table`)."""
    if isinstance(rows, (str, os.PathLike)):
        rows = read_csv_rows(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(str(k) for k in row))
        columns = list(seen)
    wanted = NOTE_COLUMNS if note_columns is None else tuple(note_columns)
    notes_in = [c for c in columns if c.lower() in wanted]
    notes: dict[str, int] = {}  # note text -> its number, in first-seen order
    shared = [c for c in notes_in
              if rows and len({str(r.get(c) or "") for r in rows}) == 1 and str(rows[0].get(c) or "")]
    for column in notes_in:
        for row in rows:
            text = str(row.get(column) or "").strip()
            if text:
                notes.setdefault(text, len(notes) + 1)
    shown = [c for c in columns if c not in shared]
    dense = " dense" if len(shown) > DENSE_COLUMNS else ""
    wide_text = {c for c in shown if c not in notes_in
                 and any(len(t) > LONG_TEXT_CHARS and not _looks_like_path(t)
                         for t in (str(r.get(c) or "") for r in rows))}
    if len(shown) * MIN_COLUMN_PX + len(wide_text) * WIDE_TEXT_PX > PAGE_WIDTH_PX:
        wide_text = set()  # their minimum widths would not leave the other columns enough room
    parts = [f'<figure><div class="scroll"><table class="data{dense}">']
    parts.append("<thead><tr>" + "".join(_header_cell(c) for c in shown) + "</tr></thead><tbody>")
    for row in rows:
        cells = []
        flagged = flag is not None and flag(row)
        for column in shown:
            if column in notes_in:
                text = str(row.get(column) or "").strip()
                marker = f'<sup class="ref">[{notes[text]}]</sup>' if text else ""
                cells.append(f'<td title="{escape(text)}">{marker}</td>' if text else "<td></td>")
                continue
            text, numeric = format_cell(row.get(column), float_digits)
            classes = ["num"] if numeric else []
            title = ""
            raw = str(row.get(column))
            if numeric and raw.strip() != text:
                title = f' title="{escape(raw.strip())}"'
            elif not numeric and _looks_like_path(text):
                classes.append("path")
                title, text = f' title="{escape(text)}"', _short_path(text)
            elif column in wide_text:
                classes.append("long")  # a sentence gets a readable width, not one word per line
            if flagged:
                classes.append("flag")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            # A number may only wrap before its exponent; other text at _ and /.
            shown_text = _number_html(text) if numeric else _breakable(text)
            cells.append(f"<td{cls}{title}>{shown_text}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        parts.append(f'<tr><td colspan="{max(1, len(shown))}">(no rows)</td></tr>')
    parts.append("</tbody></table></div>")
    if notes:
        numbered = len(notes) > 1 or not shared
        items = "".join(f"<li>{'' if not numbered else f'[{n}] '}{escape(text)}</li>" for text, n in notes.items())
        parts.append(f'<ol class="table-notes">{items}</ol>')
    if caption:
        parts.append(f"<figcaption>{escape(caption)}</figcaption>")
    parts.append("</figure>")
    return "".join(parts)
