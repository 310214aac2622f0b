"""How much of the curriculum each language has: printed by `satchel check` and `satchel build`
so authors see the gaps. A lesson missing in a language is still built, from the default
language with a notice (docs/bundle.md), so a gap is a warning, never an error."""

from __future__ import annotations

from .curriculum import Curriculum

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
    return "\n".join(lines)
