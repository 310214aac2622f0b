"""How much of the curriculum each language has: printed by `satchel check` and `satchel build`
so authors see the gaps. A lesson missing in a language is still built, from the default
language with a notice (docs/bundle.md), so a gap is a warning, never an error."""

from __future__ import annotations

from .curriculum import Curriculum
from .strings import missing_strings

SHOWN = 5  # missing lessons named per language; the rest are counted


def coverage(curriculum: Curriculum) -> list[dict]:
    """Per language: lessons translated, lessons in all, and the ids of the missing ones."""
    lessons = curriculum.lessons
    return [{"language": lang.code, "translated": sum(lesson.has(lang.code) for lesson in lessons), "lessons": len(lessons),
             "missing": [lesson.id for lesson in lessons if not lesson.has(lang.code)]} for lang in curriculum.languages]


def report(curriculum: Curriculum) -> str:
    """Lines such as `  fr  12 of 14 lessons (86 %), missing: mathematics/fractions/x, ...`."""
    lines = ["Translations:"]
    for row in coverage(curriculum):
        share = 100 * row["translated"] // max(1, row["lessons"])
        line = f"  {row['language']:<5} {row['translated']} of {row['lessons']} lessons ({share} %)"
        if row["missing"]:
            named = ", ".join(row["missing"][:SHOWN])
            more = len(row["missing"]) - SHOWN
            line += f", missing: {named}" + (f" and {more} more" if more > 0 else "")
        lines.append(line)
    untranslated = [(lang, missing_strings(lang.code, curriculum.root, lang.fallbacks)) for lang in curriculum.languages]
    untranslated = [(lang, keys) for lang, keys in untranslated if keys]
    if untranslated:
        lines.append("Interface strings (search, the offline dialog, progress...) shown in English:")
        for lang, keys in untranslated:
            lines.append(f"  {lang.code:<5} {len(keys)} strings, such as '{keys[0]}': add strings/{lang.code}.yml to the curriculum "
                         "(docs/translating.md), or declare a 'fallback' language for it in curriculum.yml")
    return "\n".join(lines)
