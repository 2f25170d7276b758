"""Compile contracts/*.sol with the pinned solcjs (npm ``solc``) into src/kassa/chain/artifacts/.

The artifacts are committed, so kassa and its tests never need the compiler; run this after
changing a contract: ``.venv/bin/python scripts/compile_contracts.py`` (needs ``npm ci``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLCJS = ROOT / "node_modules" / ".bin" / "solcjs"
OUT = ROOT / "src" / "kassa" / "chain" / "artifacts"


def compile_one(source: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [str(SOLCJS), "--optimize", "--bin", "--abi", "-o", tmp, str(source)],
            check=True,
            cwd=ROOT,
        )
        stem = f"contracts_{source.stem}_sol_{source.stem}"
        abi = json.loads((Path(tmp) / f"{stem}.abi").read_text())
        bytecode = (Path(tmp) / f"{stem}.bin").read_text().strip()
    version = subprocess.run([str(SOLCJS), "--version"], capture_output=True, text=True)
    return {
        "contract": source.stem,
        "compiler": f"solcjs {version.stdout.strip()}",
        "abi": abi,
        "bytecode": "0x" + bytecode,
    }


def main() -> int:
    if not SOLCJS.exists():
        print("solcjs not found: run `npm ci` in the project folder first", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for source in sorted((ROOT / "contracts").glob("*.sol")):
        artifact = compile_one(source.relative_to(ROOT))
        (OUT / f"{source.stem}.json").write_text(json.dumps(artifact, indent=1) + "\n")
        print(f"compiled {source.name} -> {(OUT / (source.stem + '.json')).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
