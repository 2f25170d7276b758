"""Files only the user running kassa may read: var/, the secret key, SQLite, demo credentials.

Everything is created private from its first byte (folders 0700, files 0600), never written
with the default mode and narrowed afterwards, so no other local user can read it even for a
moment. Files and folders that exist already keep their mode: ``kassa config check`` warns
about those that others can read.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only, if it does not exist (missing parents too)."""
    if not path.is_dir():
        for missing in reversed([path, *path.parents]):
            if not missing.exists():
                with contextlib.suppress(FileExistsError):  # another process was first
                    missing.mkdir(mode=PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create an empty file only its owner can read, if there is none (SQLite then fills it,
    and gives its -wal and -shm files the same mode)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    return path


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write ``text`` to ``path`` as a private file, atomically: readers see the old content
    or the new, never a half-written file.

    With ``exclusive`` an existing file is kept and ``FileExistsError`` raised, so two
    processes starting at once cannot each generate and keep a different secret.
    """
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if exclusive:
            os.link(temporary, path)  # fails if path exists, unlike a rename
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def readable_by_others(path: Path) -> bool:
    """True if a group or other user may read, write or enter ``path``."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False
