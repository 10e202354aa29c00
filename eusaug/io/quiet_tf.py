"""Keep TensorFlow's C++ start-up lines off the terminal while it is imported.

TensorFlow 2.21 writes ``WARNING: All log messages before absl::InitializeLog() ...``,
oneDNN and CUDA-stub notes straight to file descriptor 2 from C++ while
``import tensorflow`` runs; ``TF_CPP_MIN_LOG_LEVEL`` no longer hides them because absl
logs them before TensorFlow reads it. Only a redirect of the descriptor does.

:func:`quiet_tensorflow_import` installs an import hook, so TensorFlow stays a lazy
import (commands that never need it do not pay its start-up time): the first
``import tensorflow`` anywhere in the process runs with descriptor 2 pointed at
``/dev/null``; it is restored as soon as the import ends, so errors, tracebacks and
warnings after it show as usual. An import that fails re-raises after the restore.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

#: Set before TensorFlow loads: quiets what its own C++ logging still filters later.
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}

_HOOKED = ("tensorflow",)


@contextlib.contextmanager
def stderr_fd_silenced() -> Iterator[None]:
    """File descriptor 2 goes to ``/dev/null`` inside the block (C++ writes included)."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a detached process): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _SilentLoader(importlib.abc.Loader):
    """Runs another loader's ``exec_module`` with descriptor 2 silenced."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its real loader: resource readers and reloads go to it.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with stderr_fd_silenced():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)


class _QuietImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the hooked top-level packages; removes itself after the first hit."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _HOOKED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        remove_quiet_tensorflow_import()
        spec.loader = _SilentLoader(spec.loader)
        return spec


def quiet_tensorflow_import() -> None:
    """Silence TensorFlow's C++ start-up lines for this process (the CLI calls this unless ``--debug``)."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImportFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImportFinder())


def remove_quiet_tensorflow_import() -> None:
    """Undo :func:`quiet_tensorflow_import`'s hook (the environment variables stay)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietImportFinder)]
