"""Where training runs: one device, several on this machine, or several machines (``tf.distribute``).

:func:`choose_placement` turns ``--devices N|all|auto`` and the environment into a
:class:`Placement`: TensorFlow's default strategy (one device), ``MirroredStrategy`` over N
local GPUs (or N logical CPU devices when there is no GPU), or ``MultiWorkerMirroredStrategy``
when the process is one task of a cluster, described by ``TF_CONFIG`` or, without it, by
Slurm's ``srun`` variables (``SlurmClusterResolver``). A run folder is written once: by
the chief, while every other worker writes into a temporary folder that is removed at
the end (:func:`worker_folder`), as TensorFlow's multi-worker guide recommends.

``EUSAUG_CPU_DEVICES=N`` splits the CPU into N logical devices before TensorFlow starts:
a test and development aid, so the multi-device path runs on a machine without GPUs.
TensorFlow is imported only when a placement is chosen.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError

#: Splits the CPU into this many logical devices (tests and development without GPUs).
CPU_DEVICES_ENV = "EUSAUG_CPU_DEVICES"
#: First port of Slurm tasks' gRPC servers (one more per task on a node).
SLURM_PORT_ENV = "EUSAUG_SLURM_PORT"
#: ``distribute`` modes: auto (mirrored over several GPUs, multi-worker in a cluster), mirrored, none.
DISTRIBUTE_MODES = ("auto", "mirrored", "none")


@dataclass(frozen=True)
class Placement:
    """A ``tf.distribute`` strategy and what it means for the files a run writes."""

    strategy: Any
    kind: str  # "one_device", "mirrored" or "multi_worker_mirrored"
    replicas: int
    workers: int = 1
    task: str = "worker:0"
    is_chief: bool = True
    devices: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """What a run folder records: kind, replicas (all workers), workers, this task, devices."""
        return {"kind": self.kind, "replicas": self.replicas, "workers": self.workers, "task": self.task,
                "devices": list(self.devices)}


def parse_devices(value: str | int | None) -> int | None:
    """``--devices``: a count >= 1, ``all`` (None), or ``auto`` (0: several GPUs when present)."""
    text = "auto" if value is None else str(value).strip().lower()
    if text == "all":
        return None
    if text == "auto":
        return 0
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise EusaugError(f"--devices {value!r}: give a number of devices (1, 2, ...), 'all' or 'auto'.")


def split_cpu() -> int:
    """Split the CPU into ``EUSAUG_CPU_DEVICES`` logical devices (once, before TensorFlow starts); their count."""
    import tensorflow as tf

    wanted = os.environ.get(CPU_DEVICES_ENV, "").strip()
    if not wanted:
        return len(tf.config.list_logical_devices("CPU"))
    if not wanted.isdigit() or int(wanted) < 1:
        raise EusaugError(f"{CPU_DEVICES_ENV}={wanted!r}: must be a whole number >= 1 (logical CPU devices).")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(wanted))
    except RuntimeError:  # TensorFlow already started: fine if it was split the same way
        have = len(tf.config.list_logical_devices("CPU"))
        if have != int(wanted):
            raise EusaugError(f"{CPU_DEVICES_ENV}={wanted}: TensorFlow had already started with {have} CPU "
                              "device(s); set it before the process starts.") from None
    return len(tf.config.list_logical_devices("CPU"))


def cluster_environment(env: Mapping[str, str] | None = None) -> str | None:
    """``"tf_config"`` or ``"slurm"`` when this process is one of several tasks of a cluster, else None."""
    env = os.environ if env is None else env
    raw = env.get("TF_CONFIG", "").strip()
    if raw:
        try:
            cluster = json.loads(raw).get("cluster", {})
        except (json.JSONDecodeError, AttributeError):
            raise EusaugError("TF_CONFIG is not a JSON object with a 'cluster' and a 'task': fix or unset it.") from None
        if sum(len(cluster.get(job, [])) for job in ("chief", "worker")) > 1:
            return "tf_config"
        return None
    tasks = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or "1"
    if "SLURM_PROCID" in env and tasks.isdigit() and int(tasks) > 1:
        return "slurm"
    return None


def _multi_worker(devices: int | None, source: str) -> Placement:
    import tensorflow as tf

    resolver = None
    if source == "slurm":
        gpus = int(os.environ.get("SLURM_GPUS_ON_NODE", "0") or 0)
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=int(os.environ.get(SLURM_PORT_ENV, "8888")), gpus_per_node=gpus, auto_set_gpu=gpus > 0)
    local_gpus = tf.config.list_physical_devices("GPU")
    if devices and local_gpus:  # N GPUs of this machine take part
        tf.config.set_visible_devices(local_gpus[:devices], "GPU")
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    workers = sum(len(spec.get(job, [])) for job in ("chief", "worker"))
    task_type, task_id = resolver.task_type or "worker", int(resolver.task_id or 0)
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in spec)
    local = [d.name for d in tf.config.list_logical_devices("GPU")] or ["/cpu:0"]
    return Placement(strategy, "multi_worker_mirrored", int(strategy.num_replicas_in_sync), workers,
                     f"{task_type}:{task_id}", chief, tuple(local))


def choose_placement(devices: str | int | None = "auto", distribute: str = "auto",
                     cluster: bool = True) -> Placement:
    """The strategy for ``--devices`` (N, ``all``, ``auto``) and ``distribute`` (auto, mirrored, none).

    In a cluster (``TF_CONFIG`` or ``srun``), unless ``distribute`` is ``none`` or
    ``cluster`` is False (work that stays on one machine), every task must call this
    first, before TensorFlow runs anything.
    """
    import tensorflow as tf

    count = parse_devices(devices)
    if distribute not in DISTRIBUTE_MODES:
        raise EusaugError(f"distribute {distribute!r}: choose one of {', '.join(DISTRIBUTE_MODES)}.")
    if distribute == "none":
        if count not in (0, 1):
            raise EusaugError(f"--devices {devices} with distribute=none: drop one of them.")
        return Placement(tf.distribute.get_strategy(), "one_device", 1)
    source = cluster_environment() if cluster else None
    if source is not None:
        return _multi_worker(count, source)
    cpus = split_cpu()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    pool = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
    if count is None:
        chosen = pool
    elif count == 0:  # auto
        chosen = gpus if len(gpus) > 1 else (pool if distribute == "mirrored" else pool[:1])
    else:
        if count > len(pool):
            what = f"{len(gpus)} GPU(s)" if gpus else f"{cpus} CPU device(s) (set {CPU_DEVICES_ENV}=N to split the CPU)"
            raise EusaugError(f"--devices {count}: this machine has {what}; ask for at most {len(pool)}, or 'all'.")
        chosen = pool[:count]
    if len(chosen) == 1 and distribute != "mirrored":
        return Placement(tf.distribute.get_strategy(), "one_device", 1, devices=tuple(chosen))
    return Placement(tf.distribute.MirroredStrategy(chosen), "mirrored", len(chosen), devices=tuple(chosen))


def barrier(placement: Placement) -> None:
    """Wait until every worker gets here (an all-reduce); nothing to wait for on one machine."""
    if placement.workers > 1:
        import tensorflow as tf

        strategy = placement.strategy
        ones = strategy.run(lambda: tf.constant(1.0))
        strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None).numpy()


@contextlib.contextmanager
def worker_folder(folder: str | os.PathLike[str], placement: Placement) -> Iterator[Path]:
    """``folder`` for the chief; a temporary folder, removed afterwards, for any other worker."""
    if placement.is_chief:
        yield Path(folder)
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"eusaug-{placement.task.replace(':', '-')}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["CPU_DEVICES_ENV", "DISTRIBUTE_MODES", "Placement", "SLURM_PORT_ENV", "barrier", "choose_placement",
           "cluster_environment", "parse_devices", "split_cpu", "worker_folder"]
