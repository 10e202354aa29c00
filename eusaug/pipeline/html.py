"""The report's page builder, where ``eusaug.pipeline.html`` users look for it.

The kit lives in :mod:`eusaug.io.html_report` (pages) and :mod:`eusaug.io.html_tables`
(tables), low in the layering, so any stage can write a report; the pipeline's own
report is :mod:`eusaug.pipeline.run_report`.
"""

from __future__ import annotations

from eusaug.io.html_report import ImageLike, Report, image_data_uri
from eusaug.io.html_tables import (
    DENSE_COLUMNS,
    LONG_TEXT_CHARS,
    MAX_HEADER_CHARS,
    MAX_PATH_CHARS,
    MIN_COLUMN_PX,
    NOTE_COLUMNS,
    PAGE_WIDTH_PX,
    WIDE_TEXT_PX,
    format_number,
)

__all__ = [
    "DENSE_COLUMNS",
    "ImageLike",
    "LONG_TEXT_CHARS",
    "MAX_HEADER_CHARS",
    "MAX_PATH_CHARS",
    "MIN_COLUMN_PX",
    "NOTE_COLUMNS",
    "PAGE_WIDTH_PX",
    "Report",
    "WIDE_TEXT_PX",
    "format_number",
    "image_data_uri",
]
