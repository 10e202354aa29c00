"""The self-contained HTML report."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.io.images import write_png
from eusaug.pipeline.html import Report


class Collector(HTMLParser):
    """Tags with attributes, and the text inside each heading / cell, from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("img", "br", "meta"):
            self.stack.append(tag)
            if tag in ("h1", "h2", "h3", "td", "th", "dd"):
                self.text.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
            if tag in ("h1", "h2", "h3"):
                self.headings.append(self.text.pop())
            elif tag in ("td", "th", "dd"):
                self.cells.append(self.text.pop())

    def handle_data(self, data: str) -> None:
        if self.text:
            self.text[-1] += data


def parse(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    collector.close()
    assert collector.stack == [], f"unclosed tags: {collector.stack}"
    return collector


def decoded_images(collector: Collector) -> list[np.ndarray]:
    out = []
    for tag, attrs in collector.tags:
        if tag == "img":
            src = attrs["src"] or ""
            header, payload = src.split(",", 1)
            assert header in ("data:image/png;base64", "data:image/jpeg;base64")
            out.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(payload)))))
    return out


@pytest.fixture
def full_report(tmp_path: Path) -> tuple[Report, np.ndarray]:
    ramp = np.tile(np.linspace(-1, 1, 40, dtype=np.float32), (30, 1))
    png = write_png(tmp_path / "ramp.png", ramp)
    csv_path = tmp_path / "fid.csv"
    csv_path.write_text("set,fid,n\nraysim,123.456789,100\ncyclegan,87.5,100\n")
    report = Report("eusaug demo <test>", subtitle="sample CT & friends")
    report.section("Synthetic images", "Each row is a landmark.\n\nSecond paragraph.")
    report.image(png, caption="A ramp from a PNG file")
    report.image_grid([[ramp, None], [png, ramp]], row_labels=["liver", "aorta"], col_labels=["CT plane", "raysim"])
    report.section("FID", None)
    report.table(csv_path, caption="FID with controls")
    report.table([{"ratio": 0.5, "accuracy": 0.8123456, "p": None}, {"ratio": 1, "note": "<b>x</b>"}])
    report.note("ImageNet weights were absent: FID values are not comparable.", kind="warning")
    report.section("Configuration")
    report.key_values({"seed": 0, "fov": {"depth_mm": 50.0}, "time_s": 12.3456789})
    return report, ramp


def test_page_parses_and_holds_every_section(full_report: tuple[Report, np.ndarray], tmp_path: Path) -> None:
    report, _ = full_report
    path = report.write(tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    collector = parse(page)
    assert collector.headings[:4] == ["eusaug demo <test>", "Synthetic images", "FID", "Configuration"]
    ids = {attrs.get("id") for _, attrs in collector.tags}
    links = [attrs["href"] for tag, attrs in collector.tags if tag == "a"]
    assert links == ["#synthetic-images", "#fid", "#configuration"]
    assert all(link[1:] in ids for link in links)
    # Tables: CSV strings kept, floats rounded to 4 significant digits, None empty.
    assert {"raysim", "123.456789", "87.5", "0.8123", "", "<b>x</b>"} <= set(collector.cells)
    assert {"liver", "aorta", "CT plane", "raysim"} <= set(collector.cells)
    assert "ImageNet weights were absent: FID values are not comparable." in page
    assert "12.3457" in collector.cells and '{"depth_mm": 50.0}' in collector.cells
    # One grid gap, shown as a labelled placeholder.
    assert page.count("not available") == 1


def test_images_are_embedded_and_nothing_is_external(full_report: tuple[Report, np.ndarray]) -> None:
    report, ramp = full_report
    page = report.to_html()
    collector = parse(page)
    images = decoded_images(collector)
    assert len(images) == 4  # one single image + three grid cells
    expected = np.rint((ramp + 1) * 127.5).astype(np.uint8)
    assert all(np.array_equal(img, expected) for img in images)
    for tag, attrs in collector.tags:
        assert tag != "script"
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_text_is_escaped() -> None:
    report = Report('<script>alert("x")</script>')
    report.section("<img src=x onerror=alert(1)>", "a & b < c")
    report.key_values({"<k>": "<v>"})
    report.note("<script>bad()</script>")
    page = report.to_html()
    collector = parse(page)
    assert [t for t, _ in collector.tags if t in ("script", "img")] == []
    assert "a &amp; b &lt; c" in page
    assert collector.headings[1] == "<img src=x onerror=alert(1)>"


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    Report("first").write(path)
    with pytest.raises(EusaugError, match="already exists"):
        Report("second").write(path)
    assert "first" in path.read_text()
    Report("second").write(path, force=True)
    assert "second" in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_matplotlib_figure_and_bad_inputs(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [1, 0])
    report = Report("figures").image(fig, caption="a line")
    plt.close(fig)
    assert decoded_images(parse(report.to_html()))[0].shape[2] == 4  # RGBA PNG from matplotlib
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EusaugError, match="not a PNG or JPEG"):
        Report("x").image(tmp_path / "notes.txt")
    with pytest.raises(EusaugError, match="does not exist"):
        Report("x").image(tmp_path / "missing.png")
    with pytest.raises(EusaugError, match="does not exist"):
        Report("x").table(tmp_path / "missing.csv")
    with pytest.raises(EusaugError, match="row labels"):
        Report("x").image_grid([[np.zeros((4, 4))]], row_labels=["a", "b"])
