"""The runnable examples of the docs: marked shell blocks and the answers shown after them.

A doc marks an example with ``<!-- doc-test: NAME -->`` on the line before a ```` ```sh ````
block. Each ``curl`` (or ``kassa``) command of the block is one step, run in order. What a step
answers is documented by

- a ``# -> ...`` comment after it: a fragment of the answer (``"status": "canceled", ...``),
  always partial (other keys may follow);
- a ```` ```json ```` block right after the shell block: the whole answer of its last step.

In documented answers ``...`` stands for more: a bare ``...`` in an object (or a ``"...":
"..."`` entry) means other keys may follow, ``[...]`` any list. The marker may bind an id
placeholder to an earlier example (``<!-- doc-test: refunds pay_...=create-payment -->``: the
``pay_...`` of this block is the payment that example created); unbound placeholders take the
id of the latest answer that had one of that prefix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The docs whose curl examples run against a real server, in the order a newcomer reads them.
RUNNABLE_DOCS = (
    "README.md",
    "docs/api.md",
    "docs/payments.md",
    "docs/webhooks.md",
    "docs/stablecoins.md",
    "docs/payouts.md",
)
# The chain docs/stablecoins.md configures (its examples create sessions; none reads a node).
DOCS_CHAINS = (
    '{"polygon": {"chain_id": 137, "rpc_urls": ["http://127.0.0.1:9"], "tokens": '
    '{"USDC": {"address": "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359", "decimals": 6}}}}'
)

MARKER = re.compile(r"<!-- doc-test: (?P<name>[\w-]+)(?P<bindings>(?: [a-z]+_\.\.\.=[\w-]+)*) -->")
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```\n", re.S | re.M)
SHELL_LANGS = ("sh", "bash", "shell", "console")
MORE = "..."
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=(\$\([^()]*\)|[^\s;&|]+)(\s+#.*)?")


@dataclass
class Step:
    command: str  # the command as the doc writes it (continuation lines joined)
    line: int  # where it starts in the doc, 1-based
    shapes: list[Any] = field(default_factory=list)  # documented answers (fragments included)


@dataclass
class Example:
    doc: str
    name: str
    line: int
    steps: list[Step]
    bindings: dict[str, str]  # "pay_" -> name of the example whose id it is

    def where(self, step: Step) -> str:
        return f"{self.doc}:{step.line} ({self.name})"


def fences(text: str) -> list[tuple[int, int, str, str]]:
    """Every fenced block: (start offset, end offset, language, body)."""
    return [(m.start(), m.end(), m.group("lang"), m.group("body")) for m in FENCE.finditer(text)]


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def examples(doc: str) -> list[Example]:
    """The marked shell examples of one doc (a path relative to the repository), in order."""
    text = (ROOT / doc).read_text()
    blocks = fences(text)
    found: list[Example] = []
    for marker in MARKER.finditer(text):
        following = [b for b in blocks if b[0] > marker.end()]
        if not following or following[0][2] not in SHELL_LANGS:
            continue  # a marked snippet of another language (tests/webhooks/test_docs.py)
        start, end, _, body = following[0]
        assert text[marker.end() : start].strip() == "", f"{doc}: text between marker and block"
        steps = split_steps(body, first_line=_line_of(text, start) + 1)
        after = following[1:2]
        if after and after[0][2] == "json" and text[end : after[0][0]].strip() == "":
            steps[-1].shapes.append(parse_shape(after[0][3]))
        bindings = dict(b.split("...=") for b in marker.group("bindings").split())
        found.append(Example(doc, marker.group("name"), _line_of(text, start), steps, bindings))
    return found


def unmarked_curl_blocks(doc: str) -> list[int]:
    """Lines of shell blocks with a curl command that no marker makes a test of."""
    text = (ROOT / doc).read_text()
    lines = []
    for start, _, lang, body in fences(text):
        if lang in SHELL_LANGS and re.search(r"^\s*curl ", body, re.M):
            before = text[:start].rstrip().rsplit("\n", 1)[-1]
            if not MARKER.fullmatch(before.strip()):
                lines.append(_line_of(text, start))
    return lines


def split_steps(body: str, *, first_line: int) -> list[Step]:
    """One step per command; a command goes on over ``\\`` line ends and open quotes.

    A line that only sets a shell variable (``SINCE=$(date ...)``) runs before each later step.
    """
    steps: list[Step] = []
    current: list[str] = []
    prelude: list[str] = []
    for number, line in enumerate(body.splitlines(), start=first_line):
        if not current:
            stripped = line.strip()
            if stripped.startswith("# ->") and steps:
                steps[-1].shapes.append(parse_fragment(stripped.removeprefix("# ->")))
                continue
            if not stripped or stripped.startswith("#"):
                continue
            steps.append(Step(command="", line=number))
        current.append(line)
        joined = "\n".join(current)
        if line.endswith("\\") or _open_quote(joined):
            continue
        current = []
        if ASSIGNMENT.fullmatch(joined.strip()):
            prelude.append(joined.strip())  # a shell variable the later commands use
            steps.pop()
            continue
        steps[-1].command = "\n".join([*prelude, joined])
    assert not current, f"unfinished command at the end of a block: {current}"
    return steps


def _open_quote(text: str) -> bool:
    """Whether a shell command is inside a quoted string at its end (bash's rules)."""
    quote = None
    escaped = in_comment = False
    previous = "\n"
    for char in text:
        if in_comment:
            in_comment = char != "\n"
        elif escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote is None and char == "#" and previous.isspace():
            in_comment = True
        elif quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        previous = char
    return quote is not None


def parse_fragment(text: str) -> Any:
    """A ``# ->`` comment: an object, or entries of one, always followed by more keys."""
    text = text.strip()
    if not text.startswith("{"):
        text = "{" + text + ", ...}"
    shape = parse_shape(text)
    if isinstance(shape, dict):
        shape.setdefault(MORE, MORE)
    return shape


def parse_shape(text: str) -> Any:
    """JSON in which a bare ``...`` means "more keys" in an object and "any items" in a list."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith(MORE, i):
            before = "".join(out).rstrip()[-1:]
            out.append('"..."' if before == "[" else '"...": "..."')
            i += len(MORE)
            continue
        else:
            out.append(char)
        i += 1
    return json.loads("".join(out))


# Keys whose documented values are stable and must be what the server answers; every other
# value is compared by its type only (ids, times, secrets, durations differ on every run).
STABLE = frozenset(
    {
        "object",
        "status",
        "code",
        "type",
        "title",
        "currency",
        "value",
        "capture",
        "livemode",
        "decline_code",
        "operation",
        "outcome",
        "provider",
        "brand",
        "last4",
        "param",
        "reason",
        "enabled",
        "deleted",
    }
)


def differences(documented: Any, real: Any, path: str = "$") -> list[str]:
    """Where a real answer is not shaped as documented: keys, nesting, types, stable values."""
    if isinstance(documented, dict):
        if not isinstance(real, dict):
            return [f"{path}: documented an object, got {_kind(real)}"]
        partial = MORE in documented
        keys = [k for k in documented if k != MORE]
        found = [f"{path}.{k}: documented, missing" for k in keys if k not in real]
        if not partial:
            found += [f"{path}.{k}: in the answer, not documented" for k in real if k not in keys]
        for key in keys:
            if key in real:
                found += _value(key, documented[key], real[key], f"{path}.{key}")
        return found
    return _value("", documented, real, path)


def _value(key: str, documented: Any, real: Any, path: str) -> list[str]:
    if isinstance(documented, dict):
        return differences(documented, real, path)
    if isinstance(documented, list):
        if not isinstance(real, list):
            return [f"{path}: documented a list, got {_kind(real)}"]
        partial = bool(documented) and documented[-1] == MORE
        items = documented[:-1] if partial else documented
        found = []
        if not partial and len(items) != len(real):
            found.append(f"{path}: documented {len(items)} items, got {len(real)}")
        for i, item in enumerate(real):
            if items:
                found += _value(key, items[min(i, len(items) - 1)], item, f"{path}[{i}]")
        return found
    if _kind(documented) != _kind(real):
        return [f"{path}: documented {_kind(documented)}, got {_kind(real)} ({real!r})"]
    stable = key in STABLE and not (isinstance(documented, str) and MORE in documented)
    if stable and documented != real:
        return [f"{path}: documented {documented!r}, got {real!r}"]
    return []


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def expected_status(shapes: list[Any]) -> int | None:
    """The HTTP status a documented problem names; None means any 2xx."""
    for shape in shapes:
        if isinstance(shape, dict) and "code" in shape and isinstance(shape.get("status"), int):
            return int(shape["status"])
    return None
