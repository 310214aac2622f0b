"""Audits the tests run in a real page: axe-core (accessibility) and es-check (syntax floor).

Both are npm packages pinned in tests/tools/package-lock.json, installed once into the build's
Node environment (builder/nodejs.py) beside the build's own packages, never into a bundle.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from satchel.builder.nodejs import ensure_node_env

TOOLS = Path(__file__).parent / "tools"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@cache
def tools_home() -> Path:
    return ensure_node_env(log=lambda *_: None, package_dir=TOOLS)


@cache
def axe_source() -> str:
    return (tools_home() / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def axe(page, tags=WCAG_AA, context=None) -> list[dict]:
    """The WCAG A/AA violations axe-core finds in the page as it is now (dialogs open, menus
    shown...), each as {id, help, nodes: [target, summary]} for a readable failure."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(content=axe_source())
    found = page.evaluate(
        """([tags, context]) => axe.run(context || document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
             .then(r => r.violations.map(v => ({id: v.id, help: v.help,
               nodes: v.nodes.map(n => [n.target.join(' '), n.failureSummary])})))""",
        [list(tags), context])
    return found


def describe(violations: list[dict]) -> str:
    return "\n".join(f"{v['id']}: {v['help']}\n" + "\n".join(f"    {t}: {s}" for t, s in v["nodes"][:6]) for v in violations)


def es_check(version: str, files: list[Path]) -> subprocess.CompletedProcess:
    """es-check over `files`: exit 0 when none uses syntax newer than `version` (es2020...)."""
    home = tools_home()
    cli = home / "node_modules" / "es-check" / "lib" / "cli" / "index.js"
    return subprocess.run([str(home / "env" / "bin" / "node"), str(cli), version, "--checkFeatures", *map(str, files)],
                          capture_output=True, text=True)
