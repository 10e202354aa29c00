"""Every ```python block of README.md and docs/*.md runs, so the docs cannot drift from the code.

The blocks of one page run in order in one namespace (a later block may use what an
earlier one made), in a temporary folder that holds the files the snippets name
(``ct.nii.gz``, ``labels.nii.gz``: the embedded sample; ``REAL/``, ``SYN/``,
``sEUS_bank/``: class folders of raysim frames; ``frames/``: raysim frames; ``frame.png``,
``poses.png``, ``fid.csv``). A block whose first line is ``# doctest: skip (why)`` is
counted and printed, not run: it trains for long, needs a download or many processes.
Old module paths (``eusaug.volume`` ...) are refused even in skipped blocks.
"""

from __future__ import annotations

import csv
import re
import shutil
import signal
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eusaug._moved import MOVED

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"^# doctest: skip \((.+)\)")
SECONDS_PER_PAGE = 60


def blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, code) of each python block of ``page``."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """The files the snippets name, made once from the embedded sample CT."""
    from eusaug import sample_ct_path, sample_labels_path
    from eusaug.translate import synthesize

    root = tmp_path_factory.mktemp("docs")
    shutil.copy(sample_ct_path(), root / "ct.nii.gz")
    shutil.copy(sample_labels_path(), root / "labels.nii.gz")
    scratch = root / "_raysim"
    for landmark, seed in (("aorta", 1), ("liver", 2)):
        synthesize(sample_ct_path(), landmark, 12, scratch / landmark, translator="raysim", seed=seed)
        frames = sorted((scratch / landmark).glob("seus_*.png"))
        for folder, chosen in (("REAL", frames[:6]), ("SYN", frames[6:])):
            (root / folder / landmark).mkdir(parents=True)
            for path in chosen:
                shutil.copy(path, root / folder / landmark / path.name)
    shutil.copytree(root / "SYN", root / "sEUS_bank")
    shutil.copytree(scratch / "liver", root / "frames", ignore=shutil.ignore_patterns("label_*", "*.csv", "*.json"))
    shutil.copy(next((root / "REAL" / "liver").glob("*.png")), root / "frame.png")
    Image.fromarray(np.full((32, 48), 128, np.uint8)).save(root / "poses.png")
    with open(root / "fid.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["set", "fid"], ["raysim", "81.5"]])
    shutil.rmtree(scratch)
    return root


def _alarm(signum, frame):
    raise TimeoutError(f"a doc snippet ran past {SECONDS_PER_PAGE} s")


def test_no_doc_uses_an_old_module_path():
    old = [f"{page.name}:{line}: {name}" for page in PAGES for line, code in blocks(page)
           for name in MOVED if re.search(rf"\b{re.escape(name)}\b(?![._\w])", code)]
    assert not old, old


def test_every_skip_says_why():
    for page in PAGES:
        for line, code in blocks(page):
            first = code.splitlines()[0] if code.strip() else ""
            if "doctest" in first:
                assert SKIP.match(first), f"{page.name}:{line}: write '# doctest: skip (why)'"


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_python_snippets_run(page, sandbox, monkeypatch, capsys):
    monkeypatch.chdir(sandbox)
    monkeypatch.syspath_prepend(str(sandbox))
    module = types.ModuleType(f"doc_{page.stem.replace('-', '_')}")  # dataclasses look their module up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    ran, skipped = 0, []
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_PAGE)
    try:
        for line, code in blocks(page):
            why = SKIP.match(code)
            if why:
                skipped.append(f"{page.name}:{line} ({why.group(1)})")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
                except Exception as exc:
                    pytest.fail(f"{page.name} line {line}: {type(exc).__name__}: {exc}")
            ran += 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    with capsys.disabled():
        print(f"\n{page.name}: {ran} snippet(s) ran, {len(skipped)} skipped" +
              "".join(f"\n  skipped {s}" for s in skipped))
    assert ran + len(skipped) == len(blocks(page))
