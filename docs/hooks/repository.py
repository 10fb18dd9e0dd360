"""mkdocs hook: the docs site's links to the repository, from `[tool.backgrounder]`.

The repository's slug and branch live in pyproject.toml, in one place. This hook sets the
site's `repo_url`/`repo_name` from them, and turns a page's relative links to files outside
docs/ (``../notebooks/dask.ipynb``, ``../LICENSE``) into links to those files in the
repository: the same Markdown then works on GitHub, where relative links resolve, and in the
built site, where those files do not exist.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
# [text](../path) or ![alt](../path), not inside code spans (pages keep those to prose)
OUTSIDE = re.compile(r"(?P<head>!?\[[^\]]*\]\()(?P<target>(?:\.\./)+[^)\s#]*)(?P<tail>[^)]*\))")


def repository() -> tuple[str, str]:
    """The GitHub slug (``owner/name``) and the branch or tag that links point at."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        table = tomllib.load(file)["tool"]["backgrounder"]
    return table["repository"], table["ref"]


def on_config(config: Any) -> Any:
    slug, _ = repository()
    config["repo_url"] = f"https://github.com/{slug}"
    config["repo_name"] = slug
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    slug, ref = repository()
    page_dir = posixpath.dirname(page.file.src_uri)

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        path = posixpath.normpath(posixpath.join("docs", page_dir, target))
        if path.startswith("docs/") or path.startswith(".."):
            return match[0]
        if match["head"].startswith("!"):
            url = f"https://raw.githubusercontent.com/{slug}/{ref}/{path}"
        else:
            kind = "tree" if target.endswith("/") or (ROOT / path).is_dir() else "blob"
            url = f"https://github.com/{slug}/{kind}/{ref}/{path}"
        return f"{match['head']}{url}{match['tail']}"

    return OUTSIDE.sub(replace, markdown)
