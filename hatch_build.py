"""Package metadata made from `[tool.backgrounder]` in pyproject.toml (hatchling runs this).

The repository's slug and branch live there, in one place. From them this hook makes the
project URLs and the package page's README: README.md with its relative links and images
made absolute, so they work on a package index too (on GitHub the relative ones work as is).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

if sys.version_info >= (3, 11):
    import tomllib
else:  # hatchling itself depends on tomli there
    import tomli as tomllib

# [text](target) and ![alt](target "title"): the target runs to a space or the parenthesis
LINK = re.compile(
    r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)"
)
ABSOLUTE = re.compile(r"^([a-z][a-z0-9+.-]*:|#|/)", re.IGNORECASE)


def repository(root: str | Path) -> tuple[str, str]:
    """The GitHub slug (``owner/name``) and the branch or tag that links point at."""
    with open(Path(root, "pyproject.toml"), "rb") as file:
        table = tomllib.load(file)["tool"]["backgrounder"]
    return table["repository"], table["ref"]


def absolute_links(markdown: str, slug: str, ref: str) -> str:
    """Relative links point into the repository at ``ref``; images at their raw files."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        if ABSOLUTE.match(target):
            return match[0]
        path = target.removeprefix("./")
        if match["bang"]:
            url = f"https://raw.githubusercontent.com/{slug}/{ref}/{path}"
        else:
            kind = "tree" if path.endswith("/") else "blob"
            url = f"https://github.com/{slug}/{kind}/{ref}/{path.rstrip('/')}"
        return f"{match['bang']}[{match['text']}]({url}{match['title'] or ''})"

    return LINK.sub(replace, markdown)


def project_urls(slug: str, ref: str) -> dict[str, str]:
    home = f"https://github.com/{slug}"
    return {
        "Homepage": home,
        "Documentation": f"{home}/tree/{ref}/docs",
        "Changelog": f"{home}/blob/{ref}/docs/changelog.md",
        "Issues": f"{home}/issues",
        "Source": home,
    }


class CustomMetadataHook(MetadataHookInterface):
    """Fills the dynamic ``readme`` and ``urls`` of the project."""

    def update(self, metadata: dict[str, Any]) -> None:
        slug, ref = repository(self.root)
        readme = Path(self.root, "README.md").read_text(encoding="utf-8")
        metadata["readme"] = {
            "content-type": "text/markdown",
            "text": absolute_links(readme, slug, ref),
        }
        metadata["urls"] = project_urls(slug, ref)
