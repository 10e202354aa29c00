"""``eusaug synth --ct-dir``: a collection of CTs, serial, in processes or on Dask, same bytes, resumable."""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from cli_helpers import assert_clean_error, invoke
from optional import require

from eusaug.ct import ACCEPT_LABELS_FLAG, CaseFiles
from eusaug.ct.sample_case import sample_ct_path, sample_labels_path
from eusaug.errors import EusaugError
from eusaug.translate import collection
from eusaug.translate.collection import (
    COLLECTION_CSV,
    cached_translator,
    case_seed,
    find_cases,
    read_collection,
    synthesize_collection,
)
from eusaug.translate.synth import read_synth_manifest as read_manifest

N = 3
KWARGS = dict(translator="raysim", seed=7, batch_size=2)


def _make_cases(folder: Path) -> Path:
    """Three small cases from the bundled sample: as is, shifted 7/-5/3 mm, and cropped."""
    folder.mkdir(parents=True)
    ct, labels = nib.load(sample_ct_path()), nib.load(sample_labels_path())
    shutil.copy(sample_ct_path(), folder / "a_ct.nii.gz")
    shutil.copy(sample_labels_path(), folder / "a_labels.nii.gz")
    shifted = ct.affine.copy()
    shifted[:3, 3] += [7.0, -5.0, 3.0]
    nib.save(nib.Nifti1Image(np.asarray(ct.dataobj), shifted, ct.header), folder / "b_ct.nii.gz")
    nib.save(nib.Nifti1Image(np.asarray(labels.dataobj), shifted, labels.header), folder / "b_labels.nii.gz")
    nib.save(ct.slicer[:, 5:, 2:28], folder / "c_ct.nii.gz")
    nib.save(labels.slicer[:, 5:, 2:28], folder / "c_labels.nii.gz")
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` except collection.csv (it holds timings and process ids)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != COLLECTION_CSV}


@pytest.fixture(scope="module")
def ct_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_cases(tmp_path_factory.mktemp("collection") / "cts")


@pytest.fixture(scope="module")
def serial(ct_dir: Path) -> Path:
    out = ct_dir.parent / "serial"
    synthesize_collection(ct_dir, "liver", N, out, **KWARGS)
    return out


def test_find_cases_pairs_ct_and_labels(ct_dir, tmp_path) -> None:
    cases = find_cases(ct_dir)
    assert [c.name for c in cases] == ["a", "b", "c"]
    assert cases[0] == CaseFiles("a", (ct_dir / "a_ct.nii.gz").resolve(), (ct_dir / "a_labels.nii.gz").resolve())
    twins = tmp_path / "twins"
    twins.mkdir()
    for name in ("x.nii", "x.nii.gz", "x_labels.nii.gz"):
        (twins / name).write_bytes(b"")
    with pytest.raises(EusaugError, match="both named 'x'"):
        find_cases(twins)


def test_case_seeds_depend_on_seed_and_id_only() -> None:
    assert case_seed(7, "a") == case_seed(7, "a")
    assert len({case_seed(7, "a"), case_seed(7, "b"), case_seed(8, "a")}) == 3


def test_serial_run_writes_a_folder_per_case_and_the_manifest(serial, ct_dir) -> None:
    rows = read_collection(serial)
    assert [(r["case_id"], r["status"], r["n"], r["error"]) for r in rows] == [(c, "done", str(N), "") for c in "abc"]
    assert rows[1]["ct"] == str((ct_dir / "b_ct.nii.gz").resolve())
    assert (serial / "collection.json").is_file()
    images = []
    for row in rows:
        manifest = read_manifest(serial / row["case_id"])
        assert [m["file_name"] for m in manifest] == [f"seus_{i:04d}.png" for i in range(N)]
        assert {m["seed"] for m in manifest} == {str(case_seed(7, row["case_id"]))} == {row["seed"]}
        images.append((serial / row["case_id"] / "seus_0000.png").read_bytes())
    assert len(set(images)) == 3  # each case its own seed and geometry
    assert not [p for p in serial.iterdir() if p.name.startswith(".")]  # no partial folders left


def test_two_processes_write_the_same_bytes(serial, ct_dir) -> None:
    out = ct_dir.parent / "workers2"
    results = synthesize_collection(ct_dir, "liver", N, out, workers=2, **KWARGS)
    assert [r.status for r in results] == ["done"] * 3
    pids = {r.worker.rsplit(":", 1)[1] for r in results}
    assert 1 <= len(pids) <= 2 and str(os.getpid()) not in pids
    assert _tree(out) == _tree(serial)


def test_dask_cluster_writes_the_same_bytes(serial, ct_dir) -> None:
    distributed = require("distributed", "cluster")
    out = ct_dir.parent / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results = synthesize_collection(ct_dir, "liver", N, out, scheduler=cluster.scheduler_address, **KWARGS)
    assert [r.status for r in results] == ["done"] * 3
    assert _tree(out) == _tree(serial)


def test_a_corrupt_ct_fails_alone_and_a_rerun_redoes_only_it(ct_dir, serial, tmp_path, monkeypatch) -> None:
    cts = tmp_path / "cts"
    shutil.copytree(ct_dir, cts)
    (cts / "d_ct.nii.gz").write_bytes(b"not a CT")
    shutil.copy(sample_labels_path(), cts / "d_labels.nii.gz")
    out = tmp_path / "out"
    results = synthesize_collection(cts, "liver", N, out, **KWARGS)
    assert [(r.case_id, r.status) for r in results] == [("a", "done"), ("b", "done"), ("c", "done"), ("d", "failed")]
    assert "d_ct.nii.gz" in results[3].error and "\n" not in results[3].error
    with open(out / COLLECTION_CSV, newline="") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["done", "done", "done", "failed"]
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c", "collection.csv", "collection.json"]

    shutil.copy(sample_ct_path(), cts / "d_ct.nii.gz")
    ran: list[str] = []
    real = collection.run_case
    monkeypatch.setattr(collection, "run_case", lambda job, instance=None: ran.append(job.entry.name)
                        or real(job, instance))
    before = (out / "a" / "seus_0000.png").stat().st_mtime_ns
    again = synthesize_collection(cts, "liver", N, out, **KWARGS)
    assert ran == ["d"] and [(r.case_id, r.status) for r in again] == [("d", "done")]
    assert [r["status"] for r in read_collection(out)] == ["done"] * 4
    assert (out / "a" / "seus_0000.png").stat().st_mtime_ns == before
    pngs = {k: v for k, v in _tree(out / "a").items() if k.endswith(".png")}
    assert pngs and pngs.items() <= _tree(serial / "a").items()  # same images, from another folder
    assert synthesize_collection(cts, "liver", N, out, **KWARGS) == []  # all done: nothing to do

    with pytest.raises(EusaugError, match=r"other settings \(-n 3 -> 4\).*--force"):
        synthesize_collection(cts, "liver", N + 1, out, **KWARGS)


def test_unexpected_errors_are_retried_then_reported(ct_dir, tmp_path, monkeypatch) -> None:
    real = collection.run_case
    calls: dict[str, int] = {}

    def flaky(job, instance=None):  # the first attempt of case b dies as a lost worker would
        calls[job.entry.name] = calls.get(job.entry.name, 0) + 1
        if job.entry.name == "b" and calls["b"] == 1:
            raise RuntimeError("worker lost\nmid-case")
        return real(job, instance)

    monkeypatch.setattr(collection, "run_case", flaky)
    results = synthesize_collection(ct_dir, "liver", 1, tmp_path / "retried", retries=1, **KWARGS)
    assert [r.status for r in results] == ["done"] * 3 and calls["b"] == 2
    calls.clear()
    results = synthesize_collection(ct_dir, "liver", 1, tmp_path / "once", retries=0, **KWARGS)
    assert [r.status for r in results] == ["done", "failed", "done"]
    assert results[1].error == "RuntimeError: worker lost mid-case"
    assert not (tmp_path / "once" / "b").exists()


def test_translator_is_loaded_once_per_process() -> None:
    assert cached_translator("raysim", "liver", None) is cached_translator("raysim", "aorta", None)


def test_refusals(ct_dir, tmp_path, monkeypatch) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    with pytest.raises(EusaugError, match="holds no collection.json"):
        synthesize_collection(ct_dir, "liver", 1, foreign, **KWARGS)
    with pytest.raises(EusaugError, match="needs no model"):
        synthesize_collection(ct_dir, "liver", 1, tmp_path / "m", model=tmp_path, translator="raysim")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the cluster extra were not installed
    with pytest.raises(EusaugError, match=r"pip install -e '\.\[cluster\]'"):
        synthesize_collection(ct_dir, "liver", 1, tmp_path / "d", scheduler="tcp://127.0.0.1:1", **KWARGS)


def test_cli_runs_a_collection_and_explains_mistakes(ct_dir, tmp_path) -> None:
    out = tmp_path / "cli"
    result = invoke("--quiet", "synth", "--ct-dir", ct_dir, "--landmark", "liver", "--translator", "raysim",
                    "--n-images", 2, "-o", out)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in read_collection(out)] == ["done"] * 3
    assert len(read_manifest(out / "c")) == 2

    base = ("synth", "--landmark", "liver", "--translator", "raysim", "-o", tmp_path / "unused")
    assert_clean_error(invoke(*base, "--ct", sample_ct_path(), "--ct-dir", ct_dir), "exactly one of --ct", "--ct-dir")
    assert_clean_error(invoke(*base), "--ct", "--ct-dir")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(invoke(*base, "--ct-dir", empty), str(empty), "holds no CT with a label map")
    assert_clean_error(invoke(*base, "--ct-dir", ct_dir, "--labels", sample_labels_path()), "--labels", "--ct-dir")
    assert_clean_error(invoke(*base, "--ct", sample_ct_path(), "--workers", 2), "--workers", "--ct-dir")

    bad = tmp_path / "bad"
    shutil.copytree(ct_dir, bad)
    (bad / "b_ct.nii.gz").write_bytes(b"broken")
    assert_clean_error(invoke(*base[:-2], "--ct-dir", bad, "-n", 1, "-o", tmp_path / "bad_out"),
                       "1 of 3 CTs failed", "b_ct.nii.gz", "collection.csv", "rerun")


def test_each_case_label_map_is_checked_against_the_preset_unless_accepted(tmp_path) -> None:
    """--ct-dir checks every case's label map as --ct does (it used to skip the check)."""
    cts = tmp_path / "cts"
    cts.mkdir()
    shutil.copy(sample_ct_path(), cts / "a_ct.nii.gz")
    shutil.copy(sample_labels_path(), cts / "a_labels.nii.gz")
    base = ("--quiet", "synth", "--ct-dir", cts, "--landmark", "liver", "--translator", "raysim", "-n", 1,
            "--label-preset", "btcv")  # the sample's TotalSegmentator ids read as BTCV's: implausible organs
    refused = invoke(*base, "-o", tmp_path / "refused")
    assert_clean_error(refused, "1 of 1 CTs failed", ACCEPT_LABELS_FLAG)
    assert [r["status"] for r in read_collection(tmp_path / "refused")] == ["failed"]
    accepted = invoke(*base, ACCEPT_LABELS_FLAG, "-o", tmp_path / "accepted")
    assert accepted.exit_code == 0, accepted.output
    assert [r["status"] for r in read_collection(tmp_path / "accepted")] == ["done"]
