"""The vendored ethers.js is the version package.json pins (scripts/vendor_ethers.py)."""

from __future__ import annotations

import json
import re

from kassa.web.checkout.app import STATIC_DIR
from tests.helpers import ROOT


def test_the_vendored_ethers_is_the_pinned_version() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["ethers"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    vendored = (STATIC_DIR / "ethers.umd.min.js").read_bytes()
    assert f'const version="{pinned}"'.encode() in vendored
    installed = ROOT / "node_modules" / "ethers" / "dist" / "ethers.umd.min.js"
    if installed.exists():  # after `npm ci`: byte for byte what the package ships
        assert installed.read_bytes() == vendored, "run scripts/vendor_ethers.py"


def test_the_page_script_writes_text_never_markup() -> None:
    script = (STATIC_DIR / "checkout.js").read_text()
    assert "eval(" not in script and "innerHTML" not in script  # text only, never markup
