"""What the teacher dashboard shows, computed from the stored statements of one curriculum, with
the same rules as the learner's app (theme/assets/satchel/progress-model.js): a lesson is done
when a 'completed' statement exists; a quiz's score is the best 'passed'/'failed' result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .store import Store

PASS_MARK = 0.6  # as PASS_MARK in theme/assets/satchel/progress-model.js


@dataclass
class Cell:
    opened: bool = False
    completed: bool = False
    best: float | None = None
    attempts: int = 0
    seconds: int = 0


@dataclass
class Report:
    lessons: list[dict]                     # {id, title, subject, subject_title}, in curriculum order
    learners: list[dict]                    # {id, name, colour, picture}, by name
    cells: dict = field(default_factory=dict)  # (learner id, lesson id) -> Cell
    recent: list[dict] = field(default_factory=list)

    def cell(self, learner: str, lesson: str) -> Cell:
        return self.cells.get((learner, lesson)) or Cell()

    def subjects(self) -> list[dict]:
        """Per subject: the share of (learner, lesson) pairs done."""
        out = []
        for subject_id in dict.fromkeys(lesson["subject"] for lesson in self.lessons):
            ids = [lesson["id"] for lesson in self.lessons if lesson["subject"] == subject_id]
            done = sum(self.cell(learner["id"], lesson).completed for learner in self.learners for lesson in ids)
            possible = len(ids) * len(self.learners)
            title = next(lesson["subject_title"] for lesson in self.lessons if lesson["subject"] == subject_id)
            out.append({"id": subject_id, "title": title, "done": done, "possible": possible,
                        "percent": round(100 * done / possible) if possible else 0})
        return out

    def quizzes(self) -> list[dict]:
        out = []
        for lesson in self.lessons:
            cells = [self.cells[(learner["id"], lesson["id"])] for learner in self.learners if (learner["id"], lesson["id"]) in self.cells]
            tried = [c for c in cells if c.attempts]
            if tried:
                out.append({"lesson": lesson, "learners": len(tried), "attempts": sum(c.attempts for c in tried),
                            "average_best": round(100 * sum(c.best or 0 for c in tried) / len(tried)),
                            "passed": sum(1 for c in tried if (c.best or 0) >= PASS_MARK)})
        return out


def lesson_outline(curriculum: dict, language: str) -> list[dict]:
    default = next(lang["code"] for lang in curriculum["languages"] if lang["default"])

    def title(node) -> str:
        return node["title"].get(language) or node["title"][default]

    return [{"id": lesson["id"], "title": title(lesson), "subject": subject["id"], "subject_title": title(subject)}
            for subject in curriculum["subjects"] for unit in subject["units"] for lesson in unit["lessons"]]


def build_report(store: Store, curriculum: dict, language: str, recent: int = 20) -> Report:
    cid = curriculum["id"]
    lessons = lesson_outline(curriculum, language)
    learners = [{"id": r[0], "name": r[1], "colour": r[2], "picture": r[3]}
                for r in store.query("SELECT id, name, colour, picture FROM learners WHERE curriculum = ? ORDER BY name, id", cid)]
    report = Report(lessons=lessons, learners=learners)
    prefix = f"urn:satchel:{cid}:lesson:"
    titles = {lesson["id"]: lesson["title"] for lesson in lessons}
    names = {learner["id"]: learner["name"] for learner in learners}
    rows = store.query("SELECT learner, verb, object, body, timestamp FROM statements WHERE curriculum = ? ORDER BY timestamp, id", cid)
    for learner, verb, object_id, body, _ in rows:
        lesson, _, part = object_id.removeprefix(prefix).partition("#")
        cell = report.cells.setdefault((learner, lesson), Cell())
        result = json.loads(body).get("result", {}) if verb in ("experienced", "passed", "failed") else {}
        if verb == "launched":
            cell.opened = True
        elif verb == "completed":
            cell.completed = True
        elif verb == "experienced":
            cell.seconds += int(result.get("duration", "PT0S")[2:-1] or 0)
        elif verb in ("passed", "failed") and part:
            cell.attempts += 1
            scaled = result.get("score", {}).get("scaled", 0)
            cell.best = max(cell.best or 0, max(scaled, PASS_MARK) if verb == "passed" else scaled)
    for learner, verb, object_id, _, timestamp in reversed(rows[-recent:]):
        lesson = object_id.removeprefix(prefix).partition("#")[0]
        report.recent.append({"when": timestamp, "who": names.get(learner, learner), "verb": verb, "lesson": titles.get(lesson, lesson)})
    return report
