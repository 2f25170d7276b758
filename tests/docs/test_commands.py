"""Every `kassa ...` command the README and docs name exists, with the options they give it.

The commands are read from code spans and shell blocks of README.md and docs/ (decisions
included); ``a|b`` names alternatives (``kassa apikey create|list|revoke``). Each must resolve
in the real command tree to a command whose `--help` exits 0, and every ``--option`` written
after it must be one of its options. tests/test_cli_startup.py walks the tree from the other
side (every command's `--help` works and loads nothing heavy); this one reads the docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from kassa.cli import app
from tests.docs.examples import ROOT, SHELL_LANGS, fences

DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]
SPAN = re.compile(r"`((?:\.venv/bin/)?kassa(?: [^`]*)?)`")
SHELL_LINE = re.compile(r"^\s*(?:\$ )?(?:[A-Z_]+=\S+ )*(?:\.venv/bin/)?(kassa(?: .*)?)$")
END = ("#", ">", "|", "&&", ";", "<")


@dataclass(frozen=True)
class Named:
    where: str
    text: str


def named_commands() -> list[Named]:
    found: list[Named] = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        spans = text
        for start, end, lang, body in fences(text):
            spans = spans.replace(text[start:end], "\n" * text[start:end].count("\n"), 1)
            if lang not in SHELL_LANGS:
                continue
            first = text.count("\n", 0, start) + 2
            for number, line in enumerate(body.splitlines(), start=first):
                match = SHELL_LINE.match(line)
                if match:
                    found.append(Named(f"{doc}:{number}", match.group(1)))
        for number, line in enumerate(spans.splitlines(), start=1):
            for match in SPAN.finditer(line):
                found.append(Named(f"{doc}:{number}", match.group(1).replace("\\|", "|")))
    return found


def _subcommands(command: Any) -> dict[str, Any] | None:
    """A group's commands by name (typer brings its own click, so no isinstance)."""
    return getattr(command, "commands", None)


def _options(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []), getattr(param, "secondary_opts", []))
    return names


def resolve(text: str) -> tuple[list[list[str]], list[str]]:
    """The command paths a doc's `kassa ...` names, and what is wrong with it."""
    root = get_command(app)
    words = text.split()[1:]
    paths: list[list[str]] = [[]]
    problems: list[str] = []
    command = root
    for word in words:
        if word.startswith(END) or word == "...":  # "kassa apikey ...": any of them
            break
        alternatives = word.split("|")
        group = _subcommands(command)
        if group is not None and not word.startswith("-"):
            missing = [a for a in alternatives if a not in group]
            if missing:
                problems.append(f"no command `{' '.join(['kassa', *paths[0], *missing])}`")
                break
            paths = [[*path, a] for path in paths for a in alternatives]
            command = group[alternatives[0]]
            continue
        for option in (a.split("=", 1)[0] for a in alternatives if a.startswith("--")):
            for path in paths:
                leaf = root
                for name in path:
                    leaf = (_subcommands(leaf) or {})[name]
                if option not in _options(leaf):
                    problems.append(f"`{' '.join(['kassa', *path])}` has no option {option}")
    return paths, problems


def test_the_docs_name_commands() -> None:
    texts = {named.text for named in named_commands()}
    assert any(t.startswith("kassa payins reconcile-report --date 2026-01-17") for t in texts)
    assert "kassa apikey create|list|revoke" in texts  # a span in a table, pipes escaped
    assert not any("0.1.0" in text for text in texts)  # the banner is not a shell block


def test_every_command_the_docs_name_exists_with_its_options() -> None:
    problems: list[str] = []
    paths: set[tuple[str, ...]] = set()
    for named in named_commands():
        found, wrong = resolve(named.text)
        problems += [f"{named.where}: {problem} ({named.text})" for problem in wrong]
        paths.update(tuple(path) for path in found)
    assert not problems, "\n".join(problems)
    assert ("webhooks", "rotate-secret") in paths

    runner = CliRunner()
    for path in sorted(paths):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_the_help_of_apikey_create_names_every_scope() -> None:
    from kassa.accounts.models import SCOPES

    result = CliRunner().invoke(app, ["apikey", "create", "--help"], terminal_width=200)
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    assert all(scope in help_text for scope in SCOPES), help_text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("kassa payins settle", "no command `kassa payins settle`"),
        ("kassa apikey create|rotate", "no command `kassa apikey rotate`"),
        ("kassa serve --threads 4", "`kassa serve` has no option --threads"),
    ],
)
def test_a_command_or_option_the_cli_lacks_is_reported(text: str, problem: str) -> None:
    assert resolve(text)[1] == [problem]
