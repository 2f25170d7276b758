"""Every relative link of README.md and docs/ reaches a file, and its #anchor a heading there."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.examples import ROOT, fences

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prose(path: Path) -> str:
    text = path.read_text()
    for start, end, _, _ in reversed(fences(text)):
        text = text[:start] + text[end:]
    return text


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = []
    for doc in DOCS:
        for link in LINK.findall(_prose(doc)):
            if re.match(r"[a-z]+:", link):
                continue  # http(s), mailto
            path, _, anchor = link.partition("#")
            target = (doc.parent / path).resolve() if path else doc
            if not target.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and target.is_file():
                headings = re.findall(r"^#+ (.*)$", _prose(target), re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{doc.relative_to(ROOT)}: {link} (no such heading)")
    assert broken == [], "\n".join(broken)


def test_the_anchor_rule_is_githubs() -> None:
    assert _anchor("Circuit breakers") == "circuit-breakers"
    assert _anchor("The daily reconciliation report") == "the-daily-reconciliation-report"
    assert _anchor("`payment.canceled`") == "paymentcanceled"
