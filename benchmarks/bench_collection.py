"""Cases per minute of ``synthesize_collection``: serial, ``--workers N`` and a local Dask cluster.

The collection is ``--cases`` links to the shared abdomen CT (each link its own case id,
so its own seed), ``raysim`` translator, ``-n`` images per case. Wall time of the whole
call is measured (process or cluster start-up included), best of ``--repeats``. The
outputs of every mode are checked to be byte-identical. CPU seconds per case (this process
and its finished children) are printed too: on a shared machine they say more than wall
time. Prints ``name: value`` lines.

    python benchmarks/bench_collection.py [--cases 8] [-n 16] [--workers 2] [--repeats 2] [--dask]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from eusaug.pipeline.environment import cpu_name
from eusaug.translate.collection import synthesize_collection

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ct"


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the --workers processes).

    On a loaded machine wall time says more about the neighbours than about us; CPU time
    per case does not.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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
        best, cpu = float("inf"), float("inf")
        for r in range(args.repeats):
            out = root / f"{name}{r}"
            start, cpu_start = time.perf_counter(), _cpu_seconds()
            synthesize_collection(cts, "liver", args.n, out, translator="raysim", **kwargs)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - start)
            cpu = min(cpu, _cpu_seconds() - cpu_start)
        print(f"{name}_seconds: {best:.2f}")
        print(f"{name}_cases_per_min: {60 * args.cases / best:.1f}")
        if "scheduler" not in kwargs:  # a cluster's worker processes are not our children until it closes
            print(f"{name}_cpu_seconds_per_case: {cpu / args.cases:.2f}")
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
