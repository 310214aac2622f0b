"""Progress files made in Python, shaped as the app makes them (theme/assets/satchel/progress-model.js);
tests/test_progress_model.py checks that the app accepts them."""

from __future__ import annotations

import uuid

ADL = "http://adlnet.gov/expapi/verbs/"
LESSONS = ["mathematics/fractions/what-is-a-fraction", "mathematics/fractions/halves-and-quarters", "science/water-cycle/where-is-water"]


def statement(curriculum: str, learner: str, verb: str, lesson: str, n: int, **result) -> dict:
    home = f"urn:satchel:{curriculum}"
    s = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": home, "name": learner}},
        "verb": {"id": ADL + verb, "display": {"en": verb}},
        "object": {"objectType": "Activity", "id": f"{home}:lesson:{lesson}", "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}},
        "context": {"platform": "Satchel", "language": "en", "contextActivities": {"grouping": [{"objectType": "Activity", "id": home}]}},
        "timestamp": f"2026-11-{1 + n // 86400 % 28:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "version": "2.0.0",
    }
    if result:
        s["result"] = result
    return s


def progress_file(statements: int = 50, curriculum: str = "satchel-demo", name: str = "Amina", learner: str | None = None) -> dict:
    learner = learner or str(uuid.uuid4())
    verbs = [("launched", {}), ("experienced", {"duration": "PT120S"}), ("completed", {"completion": True})]
    made = [statement(curriculum, learner, verbs[n % 3][0], LESSONS[n % len(LESSONS)], n, **verbs[n % 3][1]) for n in range(statements)]
    return {"format": "satchel-progress", "version": 1, "curriculum": {"id": curriculum, "version": "1.0.0"},
            "exported": "2026-11-23T10:00:00.000Z", "profile": {"id": learner, "name": name, "colour": "#1565c0", "picture": "🦒"},
            "statements": made}
