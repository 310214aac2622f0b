"""Interface text of the learner app, per language, with English as the fallback."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

STRINGS_DIR = Path(__file__).parent / "strings"


@cache
def _load(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {str(k): str(v) for k, v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items()}


def ui_strings(language: str, curriculum_root: Path | None = None) -> dict[str, str]:
    """English, overlaid by our translation, overlaid by the curriculum's own strings/<language>.yml."""
    strings = dict(_load(STRINGS_DIR / "en.yml"))
    strings.update(_load(STRINGS_DIR / f"{language.split('-')[0]}.yml"))
    strings.update(_load(STRINGS_DIR / f"{language}.yml"))
    if curriculum_root is not None:
        strings.update(_load(Path(curriculum_root) / "strings" / f"{language}.yml"))
    return strings
