"""Copy ethers.js's browser bundle from node_modules into kassa's static files.

The checkout page loads ethers from kassa itself (no CDN: the Content-Security-Policy allows
scripts from 'self' only). The version is pinned in package.json (devDependencies); after
changing it, run ``npm ci`` then ``.venv/bin/python scripts/vendor_ethers.py`` and commit
src/kassa/web/static/ethers.umd.min.js. tests/web/test_static.py checks the two agree.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "ethers"
BUNDLE = PACKAGE / "dist" / "ethers.umd.min.js"
TARGET = ROOT / "src" / "kassa" / "web" / "static" / "ethers.umd.min.js"


def main() -> int:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["ethers"]
    if not BUNDLE.exists():
        print("node_modules/ethers is missing: run `npm ci` first.", file=sys.stderr)
        return 1
    installed = json.loads((PACKAGE / "package.json").read_text())["version"]
    if installed != pinned:
        print(f"node_modules has ethers {installed}, package.json pins {pinned}: run `npm ci`.")
        return 1
    shutil.copyfile(BUNDLE, TARGET)
    print(f"ethers {installed} -> {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
