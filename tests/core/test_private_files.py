"""What kassa keeps under var/ is readable by the user running it only, from the first byte."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from kassa.core.db import create_engine
from kassa.core.private_files import write_private
from kassa.core.settings import Settings


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """The common default: without care, files would be created 0644 and folders 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    engine = create_engine(f"sqlite+aiosqlite:///{var / 'kassa.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT x FROM t"))).scalar() == 1
            files = {p.name: mode(p) for p in var.iterdir()}
    finally:
        await engine.dispose()
    assert mode(var) == 0o700
    assert {"kassa.db", "kassa.db-wal", "kassa.db-shm"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)


def test_the_generated_secret_key_is_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    Settings(var_dir=var).secret_key_bytes()
    assert mode(var) == 0o700
    assert mode(var / "secret_key") == 0o600
    assert [p.name for p in var.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_a_secret_written_exclusively_is_never_replaced(tmp_path: Path) -> None:
    """Two processes generating the development key at once end up with the same one."""
    path = tmp_path / "secret_key"
    write_private(path, "first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_private(path, "second", exclusive=True)
    assert path.read_text() == "first"
    key = Settings(var_dir=tmp_path).secret_key_bytes()
    assert key == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
