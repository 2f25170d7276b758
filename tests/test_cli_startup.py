"""`kassa --help` answers at once: building the command tree loads no domain code.

Checked by what is imported, not by the clock (a timed test fails on a busy machine and
proves nothing on a quiet one): every `--help` of the whole command tree runs in one fresh
interpreter, and afterwards neither a database driver, a web framework, an HTTP client nor
any kassa module outside kassa.cli may have been imported. (On a quiet machine `kassa --help`
takes about 0.15 s and a subcommand's 0.3–0.4 s.)
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT, kassa_env

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "aiohttp",
    "httpx",
    "redis",
    "pydantic_settings",
    "prometheus_client",
)
# What the command tree itself may load of kassa: the package, kassa.cli, and the leaf
# helper its bootstrap uses to mask secrets in error messages.
LIGHT_KASSA = {"kassa", "kassa.core", "kassa.core.redact"}

EVERY_HELP = """
import contextlib, io, json, sys
from typer.main import get_command
from kassa.cli import app

root = get_command(app)

def paths(command, prefix):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, [*prefix, name])

helped = []
for path in paths(root, []):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            root.main([*path, "--help"], prog_name="kassa", standalone_mode=False)
        except SystemExit:
            pass
    helped.append([" ".join(path), "Usage: kassa" in out.getvalue()])
print(json.dumps({"helped": helped, "modules": sorted(sys.modules)}))
"""


def test_no_help_of_any_command_imports_the_domain_or_its_drivers() -> None:
    result = subprocess.run(
        [sys.executable, "-c", EVERY_HELP],
        env=kassa_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout)
    helped = dict(report["helped"])
    for command in ("", "serve", "run", "apikey create", "webhooks events", "payins reconcile"):
        assert helped[command], f"`kassa {command} --help` printed no usage"
    assert all(helped.values()), [name for name, ok in helped.items() if not ok]
    modules = set(report["modules"])
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"--help imported {heavy[:10]}"
    kassa = {m for m in modules if m == "kassa" or m.startswith("kassa.")}
    domain = sorted(m for m in kassa - LIGHT_KASSA if not m.startswith("kassa.cli"))
    assert domain == [], f"--help imported {domain}"


def test_no_help_shows_markup_or_python_types() -> None:
    """--help is read by people: no reST ``literals`` and no metavar like <list[str]>."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from kassa.cli import app

    root = get_command(app)

    def paths(command: object, prefix: list[str]) -> list[list[str]]:
        found = [prefix]
        for name, sub in getattr(command, "commands", {}).items():
            found += paths(sub, [*prefix, name])
        return found

    runner = CliRunner()
    confusing = {}
    for path in paths(root, []):
        text = runner.invoke(app, [*path, "--help"], terminal_width=200).output
        bad = [mark for mark in ("``", "list[", "dict[", "None]") if mark in text]
        if bad:
            confusing[" ".join(path)] = bad
    assert confusing == {}
