"""The self-contained HTML report."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.io.images import write_png
from eusaug.pipeline.html import MAX_HEADER_CHARS, Report, format_number
from eusaug.pipeline.run_report import cyclegan_epochs


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
        if tag not in ("img", "br", "meta", "wbr"):
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
    # Tables: numbers (also CSV text) rounded to 4 significant digits, None empty, a note said under the table.
    assert {"raysim", "123.5", "87.5", "0.8123", "", "100"} <= set(collector.cells)
    assert "123.456789" not in collector.cells and "&lt;b&gt;x&lt;/b&gt;" in page
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


def table_page(rows, **options) -> str:
    return Report("t").table(rows, **options).to_html()


@pytest.mark.parametrize(("value", "shown"), [
    (0.6666666666666666, "0.6667"), (2 / 3 * 1e-16, "6.667e-17"), (1.8e-16, "1.8e-16"), (123.456789, "123.5"),
    (123456.7, "123457"), (-0.000123456, "-0.0001235"), (0.0, "0"), (1.0, "1"), (float("nan"), "nan"),
    (float("-inf"), "-inf"),
])
def test_numbers_show_four_significant_digits(value: float, shown: str) -> None:
    assert format_number(value) == shown


def test_csv_numbers_are_rounded_in_the_table_and_kept_in_a_tooltip(tmp_path: Path) -> None:
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("what,n,kid,kid_std,p\nreal,4,0.6666666666666666,4.3836801519070177e-16,nan\n")
    page = Report("t").table(csv_path).to_html()
    cells = parse(page).cells
    assert cells[-5:] == ["real", "4", "0.6667", "4.384e-16", "nan"]
    assert 'title="0.6666666666666666"' in page and 'title="4.3836801519070177e-16"' in page
    assert csv_path.read_text().count("0.6666666666666666") == 1  # the CSV itself is untouched


def test_a_note_shared_by_every_row_is_said_once_and_its_column_dropped() -> None:
    note = "4 images <= 2048 feature dimensions: the covariances are rank deficient; trust KID " * 2
    rows = [{"what": f"set {i}", "fid": 0.1 * i, "note": note} for i in range(6)]
    page = table_page(rows)
    collector = parse(page)
    assert page.count("rank deficient") == 2  # the note once (it holds the phrase twice)
    assert "note" not in collector.cells  # no column for it
    assert [c for c in collector.cells if c.startswith("set ")] == [f"set {i}" for i in range(6)]


def test_different_notes_are_numbered_once_and_rows_point_to_them() -> None:
    rows = [{"what": "a", "note": "first remark"}, {"what": "b", "note": "second remark"},
            {"what": "c", "note": "first remark"}, {"what": "d", "note": ""}]
    page = table_page(rows)
    collector = parse(page)
    assert page.count("first remark<") == 1 and page.count("second remark<") == 1
    markers = [c for c in collector.cells if c.startswith("[") or c == ""]
    assert markers == ["[1]", "[2]", "[1]", ""]
    assert "[1] first remark" in page and "[2] second remark" in page


def test_long_headers_paths_and_flags_fit_a_narrow_page() -> None:
    path = "/very/long/run/folder/classifier/gradcam/real/real_train/aorta/seus_0002.png"
    rows = [{"image": path, "outside_sector_share_of_the_map": 0.8, "ok": 1},
            {"image": "short.png", "outside_sector_share_of_the_map": 0.1, "ok": 0}]
    page = table_page(rows, flag=lambda r: r["outside_sector_share_of_the_map"] > 0.5)
    collector = parse(page)
    header = next(a for t, a in collector.tags if t == "abbr")
    assert header["title"] == "outside_sector_share_of_the_map"
    shown_header = next(c for c in collector.cells if c.startswith("outside"))
    assert len(shown_header) <= MAX_HEADER_CHARS and shown_header.endswith("\u2026")
    assert "\u2026/aorta/seus_0002.png" in collector.cells and f'title="{path}"' in page
    assert "short.png" in collector.cells
    flagged = [a.get("class", "") for t, a in collector.tags if t == "td" and "flag" in (a.get("class") or "")]
    assert len(flagged) == 3  # every cell of the first row, none of the second
    # The CSS lets data tables shrink to the page: paths break anywhere, the table never exceeds it.
    assert "overflow-wrap: anywhere" in page and "max-width: 100%" in page
    assert '<table class="data">' in page  # 3 columns: the normal font


def test_wide_tables_are_dense_and_numbers_wrap_only_before_the_exponent() -> None:
    row = {f"p_{k}": 1.8e-16 * (k + 1) for k in range(13)}
    page = table_page([row])
    assert '<table class="data dense">' in page
    assert '<span class="nb">1.8</span><wbr><span class="nb">e-16</span>' in page
    assert parse(page).cells[13] == "1.8e-16"  # the text itself is unchanged


def test_cyclegan_epochs_read_from_the_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "cyclegan-aorta"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"format": "eusaug-cyclegan-run", "config": {"epochs": 6}}))
    (run / "losses.csv").write_text("epoch,train_generator\n1,2.0\n2,1.5\n")
    assert cyclegan_epochs(run, budgeted=True) == {
        "epochs_trained": 2, "epochs_configured": 6, "stopped_by": "time budget",
        "status": "trained 2 of 6 epochs (time budget)"}
    assert cyclegan_epochs(run, budgeted=False)["status"] == "trained 2 of 6 epochs (stopped early)"
    (run / "losses.csv").write_text("epoch,train_generator\n" + "".join(f"{e},1.0\n" for e in range(1, 7)))
    assert cyclegan_epochs(run, budgeted=True)["status"] == "trained 6 of 6 epochs"
    (run / "losses.csv").unlink()  # a run that never finished an epoch
    assert cyclegan_epochs(run, budgeted=False)["status"] == "trained 0 of 6 epochs (stopped early)"
    assert cyclegan_epochs(tmp_path / "missing", budgeted=True) is None
