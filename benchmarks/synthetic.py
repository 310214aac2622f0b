"""A synthetic curriculum for benchmarks: 3 languages (en, fr, ar), N lessons each, lessons of
realistic size and shape (headings, paragraphs, a list, a table, boxes, a hidden answer).
Deterministic: the same N gives the same files."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

WORDS = {
    "en": "water river cloud rain sun sea fraction half quarter share bread mango market coin number count measure "
          "plant seed leaf root grow soil light heat cold warm boil filter clean safe drink jug bottle field farm".split(),
    "fr": "eau rivière nuage pluie soleil mer fraction moitié quart partager pain mangue marché pièce nombre compter "
          "mesurer plante graine feuille racine pousser sol lumière chaleur froid chaud bouillir filtrer propre sûr boire".split(),
    "ar": "ماء نهر سحابة مطر شمس بحر كسر نصف ربع تقاسم خبز مانجو سوق قطعة عدد عدّ قياس نبات بذرة ورقة جذر نمو "
          "تربة ضوء حرارة بارد دافئ غليان تصفية نظيف آمن شرب إبريق زجاجة حقل مزرعة".split(),
}
LANGUAGES = [("en", "English"), ("fr", "Français"), ("ar", "العربية")]


def _sentence(rng: random.Random, words: list[str], n: int = 12) -> str:
    text = " ".join(rng.choice(words) for _ in range(n))
    return text[0].upper() + text[1:] + "."


def lesson_markdown(rng: random.Random, code: str, title: str, order: int) -> str:
    words = WORDS[code]
    para = lambda k=5: " ".join(_sentence(rng, words, rng.randint(8, 16)) for _ in range(k))  # noqa: E731
    table = "\n".join(["| " + " | ".join(rng.choice(words) for _ in range(3)) + " |" for _ in range(4)])
    table = table.replace("\n", "\n| --- | --- | --- |\n", 1)
    return (f"---\ntitle: \"{title}\"\nobjectives:\n  - {_sentence(rng, words, 6)}\n  - {_sentence(rng, words, 6)}\n"
            f"minutes: {rng.randint(10, 25)}\norder: {order}\n---\n\n{para()}\n\n## {rng.choice(words).title()}\n\n{para(6)}\n\n"
            f"- {_sentence(rng, words, 6)}\n- {_sentence(rng, words, 6)}\n- {_sentence(rng, words, 6)}\n\n{table}\n\n"
            f"!!! example \"{rng.choice(words)}\"\n\n    {_sentence(rng, words)}\n\n    ??? success \"{rng.choice(words)}\"\n\n"
            f"        {_sentence(rng, words)}\n\n!!! tip \"{rng.choice(words)}\"\n\n    {_sentence(rng, words)}\n")


def write_curriculum(root: Path, lessons_per_language: int) -> Path:
    """Write the curriculum at `root` (replacing it); subjects x units x 10 lessons."""
    if root.exists():
        shutil.rmtree(root)
    per_unit = 10
    units_total = math.ceil(lessons_per_language / per_unit)
    subjects = max(1, round(math.sqrt(units_total)))
    root.mkdir(parents=True)
    (root / "curriculum.yml").write_text(
        "id: synthetic\nversion: '1'\ntitle: {en: Synthetic school, fr: École synthétique, ar: مدرسة اصطناعية}\nlanguages:\n"
        + "".join(f"  - {{code: {c}, name: {n}{', default: true' if c == 'en' else ''}}}\n" for c, n in LANGUAGES), encoding="utf-8")
    for code, _ in LANGUAGES:
        rng = random.Random(f"{code}-{lessons_per_language}")
        words = WORDS[code]
        written = 0
        for u in range(units_total):
            subject, unit = f"subject-{u % subjects:02d}", f"unit-{u:03d}"
            subject_dir = root / code / subject
            if not (subject_dir / "index.md").exists():
                subject_dir.mkdir(parents=True, exist_ok=True)
                subject_title = f"{rng.choice(words).title()} {u % subjects}"
                (subject_dir / "index.md").write_text(f"---\ntitle: \"{subject_title}\"\norder: {u % subjects}\n---\n", encoding="utf-8")
            unit_dir = subject_dir / unit
            unit_dir.mkdir()
            unit_title = f"{rng.choice(words).title()} {u}"
            (unit_dir / "index.md").write_text(f"---\ntitle: \"{unit_title}\"\norder: {u}\n---\n\n{_sentence(rng, words)}\n", encoding="utf-8")
            for n in range(per_unit):
                if written == lessons_per_language:
                    break
                title = f"{rng.choice(words).title()} {rng.choice(words)} {written}"
                (unit_dir / f"lesson-{n:02d}.md").write_text(lesson_markdown(rng, code, title, n), encoding="utf-8")
                written += 1
    return root


if __name__ == "__main__":
    import sys
    print(write_curriculum(Path(sys.argv[1]), int(sys.argv[2])))
