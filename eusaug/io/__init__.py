"""Files in and out: atomic writes, images, CSV/JSON tables, Keras checkpoints, hashes, progress bars."""

from __future__ import annotations

from eusaug.io.atomic import (
    atomic_directory,
    atomic_path,
    write_bytes,
    write_text,
)
from eusaug.io.checkpoint import (
    STATE_FILE,
    VARIABLES_FILE,
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_keras_model,
    read_state,
    save_checkpoint,
    save_keras_model,
)
from eusaug.io.hashing import (
    file_digest,
    file_sha256,
)
from eusaug.io.images import (
    IMAGE_SUFFIXES,
    encode_png,
    list_images,
    read_grey_uint8,
    read_image,
    read_label_png,
    uint8_to_unit,
    unit_to_uint8,
    write_label_png,
    write_png,
)
from eusaug.io.progress import (
    T,
    console,
    make_progress,
    set_quiet,
    status,
    track,
)
from eusaug.io.tables import (
    check_new,
    read_csv_rows,
    write_csv,
    write_json,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "STATE_FILE",
    "T",
    "VARIABLES_FILE",
    "atomic_directory",
    "atomic_path",
    "check_new",
    "checkpoint_name",
    "console",
    "encode_png",
    "file_digest",
    "file_sha256",
    "latest_checkpoint",
    "list_checkpoints",
    "list_images",
    "load_checkpoint",
    "load_keras_model",
    "make_progress",
    "read_csv_rows",
    "read_grey_uint8",
    "read_image",
    "read_label_png",
    "read_state",
    "save_checkpoint",
    "save_keras_model",
    "set_quiet",
    "status",
    "track",
    "uint8_to_unit",
    "unit_to_uint8",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_label_png",
    "write_png",
    "write_text",
]
