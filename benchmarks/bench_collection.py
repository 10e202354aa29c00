"""Cases per minute of ``synthesize_collection``: serial, ``--workers N`` and a local Dask cluster.

The collection is ``--cases`` links to the shared abdomen CT (each link its own case id,
so its own seed), ``raysim`` translator, ``-n`` images per case. Wall time of the whole
call is measured (process or cluster start-up included), best of ``--repeats``. The
outputs of every mode are checked to be byte-identical. Prints ``name: value`` lines.

    python benchmarks/bench_collection.py [--cases 8] [-n 16] [--workers 2] [--repeats 2] [--dask]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from eusaug.collection import synthesize_collection
from eusaug.protocol import cpu_name

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ct"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8, help="Cases in the collection.")
    parser.add_argument("-n", type=int, default=16, help="Images per case.")
    parser.add_argument("--workers", type=int, default=2, help="Processes for the parallel runs.")
    parser.add_argument("--repeats", type=int, default=2, help="Runs per mode; the best counts.")
    parser.add_argument("--dask", action="store_true", help="Also time a LocalCluster of --workers processes.")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench_collection."))
    cts = root / "cts"
    cts.mkdir()
    for k in range(args.cases):
        (cts / f"case{k:03d}_ct.nii.gz").symlink_to(DATA / "totalseg_abdomen_ct.nii.gz")
        (cts / f"case{k:03d}_labels.nii.gz").symlink_to(DATA / "totalseg_abdomen_labels.nii.gz")

    def timed(name: str, **kwargs: object) -> Path:
        best = float("inf")
        for r in range(args.repeats):
            out = root / f"{name}{r}"
            start = time.perf_counter()
            synthesize_collection(cts, "liver", args.n, out, translator="raysim", **kwargs)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - start)
        print(f"{name}_seconds: {best:.2f}")
        print(f"{name}_cases_per_min: {60 * args.cases / best:.1f}")
        return out

    print(f"cpu: {cpu_name()} ({os.cpu_count()} cores)")
    print(f"cases: {args.cases}  images_per_case: {args.n}")
    serial = timed("serial")
    parallel = timed(f"workers{args.workers}", workers=args.workers)
    assert _tree(serial) == _tree(parallel), "parallel images differ from serial ones"
    if args.dask:
        from distributed import LocalCluster

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster:
            dask_out = timed(f"dask{args.workers}", scheduler=cluster.scheduler_address)
        assert _tree(serial) == _tree(dask_out), "Dask images differ from serial ones"
    print(f"load_average_1min: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
