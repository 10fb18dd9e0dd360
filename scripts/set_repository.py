"""Point the package at another GitHub repository (or branch): `[tool.backgrounder]` in
pyproject.toml, and README.md's Binder badge, the one place that spells the slug out.

    python scripts/set_repository.py OWNER/NAME [REF]

Everything else (project URLs, the package page's links, the docs site's links) is made
from pyproject.toml at build time; see docs/maintaining.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLUG = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")
BADGE = re.compile(r"(https://mybinder\.org/v2/gh/)[^/\s]+/[^/\s]+/[^?\s)]+")


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or not SLUG.match(argv[0]):
        print(__doc__, file=sys.stderr)
        return 2
    slug, ref = argv[0], argv[1] if len(argv) == 2 else "main"
    pyproject = ROOT / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    table = re.compile(r'(\[tool\.backgrounder\]\nrepository = )"[^"]*"\nref = "[^"]*"')
    text, count = table.subn(rf'\1"{slug}"\nref = "{ref}"', text)
    if count != 1:
        print("pyproject.toml: no [tool.backgrounder] table to update", file=sys.stderr)
        return 1
    pyproject.write_text(text, encoding="utf-8")
    readme = ROOT / "README.md"
    text, count = BADGE.subn(rf"\g<1>{slug}/{ref}", readme.read_text(encoding="utf-8"))
    if count != 1:
        print("README.md: no Binder badge to update", file=sys.stderr)
        return 1
    readme.write_text(text, encoding="utf-8")
    print(f"repository {slug}, ref {ref}: pyproject.toml and README.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
