"""What the teacher dashboard shows, read from the summaries hub/store.py keeps as statements
arrive (lesson_progress, activity_days, question_results), never from a scan of the statements.
The rules are the learner's app's (theme/assets/satchel/progress-model.js), applied at insert by
store.summarise: a lesson is done when a 'completed' statement exists; a quiz's score is the best
'passed'/'failed' result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .store import PASS_MARK, SUMMARISED_BODIES, Store, summarise

PAGE_SIZE = 50  # learners on a page of the dashboard
SORTS = ("name", "done", "last")
SHOWS = ("all", "not_started", "stuck")

__all__ = ["PASS_MARK", "Cell", "Filters", "Report", "build_report", "class_report", "learner_report", "lesson_outline",
           "recompute_cells", "region_rows", "school_rows"]


@dataclass
class Cell:
    opened: bool = False
    completed: bool = False
    best: float | None = None
    attempts: int = 0
    seconds: int = 0
    first: str | None = None  # the statements' own dates (ISO 8601)
    last: str | None = None


@dataclass
class Filters:
    """A dashboard view, as its query string says: subject ('' for all), show (SHOWS), a name to
    search, sort (SORTS), page (from 1); at a central a region and a school (id); a class (id,
    of the school in view, or of this hub's own classes)."""
    subject: str = ""
    show: str = "all"
    name: str = ""
    sort: str = "name"
    page: int = 1
    region: str = ""
    school: str = ""
    klass: str = ""

    @classmethod
    def of(cls, params, subjects: set[str]) -> Filters:
        try:
            page = max(1, min(int(params.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        subject = params.get("subject", "")
        show = params.get("show", "all")
        sort = params.get("sort", "name")
        return cls(subject=subject if subject in subjects else "", show=show if show in SHOWS else "all",
                   name=params.get("q", "")[:100].strip(), sort=sort if sort in SORTS else "name", page=page,
                   region=params.get("region", "")[:100], school=params.get("school", "")[:100], klass=params.get("class", "")[:64])

    def query(self, **changed) -> dict:
        """The query string's values of this view with some changed (a page link, a sort link)."""
        values = {"subject": self.subject, "show": self.show, "q": self.name, "sort": self.sort, "page": self.page,
                  "region": self.region, "school": self.school, "class": self.klass, **changed}
        defaults = {"subject": "", "show": "all", "q": "", "sort": "name", "page": 1, "region": "", "school": "", "class": ""}
        return {key: value for key, value in values.items() if value != defaults[key]}


@dataclass
class Report:
    lessons: list[dict]                     # {id, title, subject, subject_title}, in curriculum order
    learners: list[dict]                    # this page's {id, name, colour, picture, done, last, school}
    total: int = 0                          # learners in the curriculum
    matching: int = 0                       # learners the filters keep
    filters: Filters = field(default_factory=Filters)
    cells: dict = field(default_factory=dict)  # (learner id, lesson id) -> Cell, for this page's learners
    subject_done: dict = field(default_factory=dict)  # lesson id -> learners who completed it
    quiz_rows: list = field(default_factory=list)
    recent: list[dict] = field(default_factory=list)
    schools: dict = field(default_factory=dict)  # at a central: school id -> (name, region)

    def cell(self, learner: str, lesson: str) -> Cell:
        return self.cells.get((learner, lesson)) or Cell()

    def shown_lessons(self) -> list[dict]:
        return [lesson for lesson in self.lessons if not self.filters.subject or lesson["subject"] == self.filters.subject]

    def pages(self) -> int:
        return max(1, -(-self.matching // PAGE_SIZE))

    def subjects(self) -> list[dict]:
        """Per subject: the share of (learner, lesson) pairs done."""
        out = []
        for subject_id in dict.fromkeys(lesson["subject"] for lesson in self.lessons):
            ids = [lesson["id"] for lesson in self.lessons if lesson["subject"] == subject_id]
            done = sum(self.subject_done.get(lesson, 0) for lesson in ids)
            possible = len(ids) * self.total
            title = next(lesson["subject_title"] for lesson in self.lessons if lesson["subject"] == subject_id)
            out.append({"id": subject_id, "title": title, "done": done, "possible": possible,
                        "percent": round(100 * done / possible) if possible else 0})
        return out

    def quizzes(self) -> list[dict]:
        by_lesson = {row[0]: row for row in self.quiz_rows}
        out = []
        for lesson in self.lessons:
            if lesson["id"] in by_lesson:
                _, tried, attempts, best_sum, passed = by_lesson[lesson["id"]]
                out.append({"lesson": lesson, "learners": tried, "attempts": attempts,
                            "average_best": round(100 * best_sum / tried), "passed": passed})
        return out


def lesson_outline(curriculum: dict, language: str) -> list[dict]:
    default = next(lang["code"] for lang in curriculum["languages"] if lang["default"])

    def title(node) -> str:
        return node["title"].get(language) or node["title"][default]

    return [{"id": lesson["id"], "title": title(lesson), "subject": subject["id"], "subject_title": title(subject)}
            for subject in curriculum["subjects"] for unit in subject["units"] for lesson in unit["lessons"]]


def _marks(values) -> str:
    return ", ".join("?" * len(values))


def progress_of(store: Store, curriculum: str, learners: list[str]) -> dict:
    """{(learner, lesson): (opened, completed, best, attempts, seconds, first, last)} of lesson_progress
    for some learners, as read."""
    cells = {}
    for chunk in range(0, len(learners), 500):
        part = learners[chunk:chunk + 500]
        for learner, lesson, *rest in store.query(
                "SELECT learner, lesson, opened, completed, best, attempts, seconds, first, last FROM lesson_progress "
                f"WHERE curriculum = ? AND learner IN ({_marks(part)})", curriculum, *part):
            cells[(learner, lesson)] = rest
    return cells


def cells_of(store: Store, curriculum: str, learners: list[str]) -> dict:
    """{(learner, lesson): Cell} of lesson_progress for some learners."""
    return {key: Cell(bool(opened), bool(completed), best, attempts, seconds, first, last)
            for key, (opened, completed, best, attempts, seconds, first, last) in progress_of(store, curriculum, learners).items()}


def learner_rows(store: Store, curriculum: str, lessons: list[str], filters: Filters, limit: int | None, offset: int = 0,
                 totals: bool = True):
    """(learners the filters keep, [(id, name, colour, picture, done, last, school)] of them in
    order), from learner_totals (hub/store.py: per learner and subject, kept as statements arrive),
    never a grouping of lesson_progress: with no filter on learners (name, school, region, class) a
    page read in the order of one of its indexes, and a count of its rows; with one, the learners
    it keeps (one school's, one class's...) each with their row. `lessons` are the lessons in view
    (the subject's, or all): the totals count each lesson of the subject a learner has a summary of.
    `totals` False: done and last are not read (0 and None), for a reader that needs neither."""
    subject = filters.subject
    if not (filters.name or filters.school or filters.region or filters.klass):
        if filters.show == "all" and filters.sort == "name":
            return _learner_rows_by_name(store, curriculum, subject, limit, offset, totals)
        known = not subject or store.query("SELECT 1 FROM learner_subjects WHERE curriculum = ? AND subject = ?", curriculum, subject)
        if not known:  # no learner has begun the subject: every one of them not started, none stuck, all done 0
            if filters.show == "stuck":
                return 0, []
            return _learner_rows_by_name(store, curriculum, subject, limit, offset, False)
        return _learner_rows_by_totals(store, curriculum, subject, filters, limit, offset)
    where, args = "", []
    if filters.name:
        escaped = filters.name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where, args = " AND LOWER(l.name) LIKE ? ESCAPE '\\'", [f"%{escaped}%"]
    if filters.school:
        where, args = where + " AND l.school = ?", [*args, filters.school]
    elif filters.region:
        where, args = where + " AND l.school IN (SELECT id FROM schools WHERE region = ?)", [*args, filters.region]
    if filters.klass:
        where += (" AND EXISTS (SELECT 1 FROM class_members m WHERE m.curriculum = l.curriculum AND m.learner = l.id "
                  "AND m.school = ? AND m.class = ?)")
        args = [*args, filters.school, filters.klass]
    if filters.show == "not_started":
        where += " AND COALESCE(t.lessons, 0) = 0"
    elif filters.show == "stuck":
        where += " AND t.stuck > 0"
    kept = ("SELECT l.id, l.name, l.colour, l.picture, COALESCE(t.done, 0) AS done, t.last AS last, l.school FROM learners l "
            "LEFT JOIN learner_totals t ON t.curriculum = l.curriculum AND t.learner = l.id AND t.subject = ? "
            f"WHERE l.curriculum = ?{where}")
    args = [subject, curriculum, *args]
    order = {"name": "name, id", "done": "done DESC, name, id", "last": "last IS NULL, last DESC, name, id"}[filters.sort]
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    # the page and how many the filters keep in one read (a window's count is over every row kept,
    # before LIMIT), not two; a page past the end has no row to carry it: counted alone then
    rows = store.query(f"SELECT kept.*, COUNT(*) OVER () AS matching FROM ({kept}) AS kept ORDER BY {order}{page}", *args)
    if rows:
        return rows[0][-1], [row[:-1] for row in rows]
    return (store.query(f"SELECT COUNT(*) FROM ({kept}) AS kept", *args)[0][0] if offset else 0), []


def _learner_rows_by_totals(store: Store, curriculum: str, subject: str, filters: Filters, limit: int | None, offset: int):
    """learner_rows with no filter on learners, for a subject some learner has begun (every learner
    has its row then): a page of learner_totals in the order of an index (learner_totals_done,
    _last, _waiting, _stuck), and the count of the rows the view keeps."""
    show = {"all": "", "not_started": " AND t.lessons = 0", "stuck": " AND t.stuck > 0"}[filters.show]
    last = "t.last DESC NULLS LAST" if store.dialect == "postgresql" else "t.last DESC"  # as the index learner_totals_last
    order = {"name": "t.name, t.learner", "done": "t.done DESC, t.name, t.learner", "last": f"{last}, t.name, t.learner"}[filters.sort]
    if filters.show == "not_started":  # none done, no last activity: by name, as the partial index learner_totals_waiting
        order = "t.name, t.learner"
    matching = store.query(f"SELECT COUNT(*) FROM learner_totals t WHERE t.curriculum = ? AND t.subject = ?{show}", curriculum, subject)[0][0] \
        if show else store.query("SELECT COUNT(*) FROM learners WHERE curriculum = ?", curriculum)[0][0]  # a row each: the smaller index
    order, page, backwards = _page(order, limit, offset, matching)
    rows = store.query("SELECT t.learner, t.name, l.colour, l.picture, t.done, t.last, l.school FROM learner_totals t "
                       "JOIN learners l ON l.curriculum = t.curriculum AND l.id = t.learner "
                       f"WHERE t.curriculum = ? AND t.subject = ?{show} ORDER BY {order}{page}", curriculum, subject)
    return matching, rows[::-1] if backwards else rows


def _page(order: str, limit: int | None, offset: int, matching: int) -> tuple[str, str, bool]:
    """(ORDER BY, LIMIT/OFFSET, read backwards) of a page of `matching` rows in `order`: a page in
    the second half read from the end (the order reversed, an index read backwards, its rows then
    reversed), so the last pages skip as few rows as the first."""
    if limit is None:
        return order, "", False
    if not matching // 2 < offset < matching:
        return order, f" LIMIT {int(limit)} OFFSET {int(offset)}", False
    count = min(int(limit), matching - offset)
    flipped = []
    for term in order.split(", "):
        column, _, direction = term.partition(" ")
        flipped.append({"": f"{column} DESC", "DESC": column, "DESC NULLS LAST": f"{column} ASC NULLS FIRST"}[direction])
    return ", ".join(flipped), f" LIMIT {count} OFFSET {matching - offset - count}", True


def _learner_rows_by_name(store: Store, curriculum: str, subject: str, limit: int | None, offset: int, totals: bool = True):
    """learner_rows for every learner by name: a page of learners (learners_name), then the done and
    last of that page's learners alone (learner_totals, by its primary key)."""
    matching = store.query("SELECT COUNT(*) FROM learners WHERE curriculum = ?", curriculum)[0][0]
    order, page, backwards = _page("name, id", limit, offset, matching)
    learners = store.query(f"SELECT id, name, colour, picture, school FROM learners WHERE curriculum = ? ORDER BY {order}{page}", curriculum)
    learners = learners[::-1] if backwards else learners
    ids = [row[0] for row in learners] if totals else []
    done: dict = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        done.update((learner, (count, last)) for learner, count, last in store.query(
            f"SELECT learner, done, last FROM learner_totals WHERE curriculum = ? AND learner IN ({_marks(part)}) AND subject = ?",
            curriculum, *part, subject))
    return matching, [(i, name, colour, picture, *done.get(i, (0, None)), school) for i, name, colour, picture, school in learners]


def build_report(store: Store, curriculum: dict, language: str, filters: Filters | None = None, recent: int = 20) -> Report:
    """One page of the dashboard: its learners' cells, and the curriculum's totals, from summaries."""
    cid = curriculum["id"]
    lessons = lesson_outline(curriculum, language)
    report = Report(lessons=lessons, learners=[], filters=filters or Filters())
    ids = [lesson["id"] for lesson in report.shown_lessons()]
    report.total = store.query("SELECT COUNT(*) FROM learners WHERE curriculum = ?", cid)[0][0]
    report.matching, rows = learner_rows(store, cid, ids, report.filters, PAGE_SIZE, (report.filters.page - 1) * PAGE_SIZE)
    report.learners = [{"id": r[0], "name": r[1], "colour": r[2], "picture": r[3], "done": r[4], "last": r[5], "school": r[6]}
                       for r in rows]
    report.schools = store.school_regions()
    report.cells = cells_of(store, cid, [learner["id"] for learner in report.learners])
    # the curriculum's totals over every learner: lesson_totals (hub/store.py), one row per lesson
    totals = store.query("SELECT lesson, completed, tried, attempts, best_millionths, passed FROM lesson_totals WHERE curriculum = ?", cid)
    report.subject_done = {lesson: completed for lesson, completed, *_ in totals if completed > 0}
    report.quiz_rows = [(lesson, tried, attempts, best / 1_000_000, passed) for lesson, _, tried, attempts, best, passed in totals if tried > 0]
    prefix = f"urn:satchel:{cid}:lesson:"
    titles = {lesson["id"]: lesson["title"] for lesson in lessons}
    newest = store.query("SELECT s.learner, s.verb, s.object, s.timestamp, l.name FROM (SELECT learner, verb, object, timestamp, id "
                         "FROM statements WHERE curriculum = ? ORDER BY timestamp DESC, id DESC LIMIT ?) AS s "
                         "LEFT JOIN learners l ON l.curriculum = ? AND l.id = s.learner ORDER BY s.timestamp DESC, s.id DESC",
                         cid, recent, cid)
    for learner, verb, object_id, timestamp, name in newest:
        lesson = object_id.removeprefix(prefix).partition("#")[0]
        report.recent.append({"when": timestamp, "who": name or learner, "verb": verb, "lesson": titles.get(lesson, lesson)})
    return report


def learner_report(store: Store, curriculum: dict, language: str, learner: str) -> dict | None:
    """One learner's page: profile, each lesson's cell in curriculum order, and activity per day
    (newest first), from the summaries; None for a learner the hub does not know."""
    cid = curriculum["id"]
    found = store.query("SELECT id, name, colour, picture FROM learners WHERE curriculum = ? AND id = ?", cid, learner)
    if not found:
        return None
    cells = cells_of(store, cid, [learner])
    days = store.query("SELECT day, statements, seconds FROM activity_days WHERE curriculum = ? AND learner = ? "
                       "ORDER BY day DESC LIMIT 366", cid, learner)
    most = max((seconds for _, _, seconds in days), default=0)
    watched = watched_of(store, cid, learner)
    return {"learner": dict(zip(("id", "name", "colour", "picture"), found[0], strict=True)),
            "lessons": [{**lesson, "cell": cells.get((learner, lesson["id"])) or Cell(), "watched": watched.get(lesson["id"])}
                        for lesson in lesson_outline(curriculum, language)],
            "days": [{"day": day, "statements": count, "seconds": seconds, "percent": round(100 * seconds / most) if most else 0}
                     for day, count, seconds in days]}


VIDEO_PROGRESS = "https://w3id.org/xapi/video/extensions/progress"


def watched_of(store: Store, curriculum: str, learner: str) -> dict[str, float]:
    """{lesson: fraction of its videos watched, 0 to 1} for one learner: each video's most watched
    (the xAPI Video Profile's progress extension of its statements), averaged over the lesson's
    videos that have statements. One learner's video statements are read (the learner page only),
    not a summary: lesson_progress has no column for it."""
    best: dict[tuple[str, str], float] = {}
    prefix = f"urn:satchel:{curriculum}:lesson:"
    rows = store.query("SELECT object, body FROM statements WHERE curriculum = ? AND learner = ? AND object LIKE ?",
                       curriculum, learner, prefix + "%#video-%")
    for object_id, body in rows:
        lesson, _, video = object_id.removeprefix(prefix).partition("#")
        try:
            value = (json.loads(body).get("result") or {}).get("extensions", {}).get(VIDEO_PROGRESS)
        except (ValueError, AttributeError):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            best[(lesson, video)] = max(best.get((lesson, video), 0.0), float(value))
    lessons: dict[str, list[float]] = {}
    for (lesson, _), value in best.items():
        lessons.setdefault(lesson, []).append(value)
    return {lesson: round(sum(values) / len(values), 3) for lesson, values in lessons.items()}


def recompute_cells(store: Store, curriculum: str) -> tuple[dict, dict]:
    """Summaries made afresh from every statement of a curriculum (a full scan, as the dashboard
    once did on every view): ({(learner, lesson): [opened, completed, best, attempts, seconds, first,
    last]}, {(learner, day): [statements, seconds]}). For tests and checks, never for a view."""
    import orjson
    per_learner: dict[str, tuple[dict, dict]] = {}
    for learner, verb, object_id, timestamp, body in store.query(
            "SELECT learner, verb, object, timestamp, body FROM statements WHERE curriculum = ? ORDER BY timestamp, id", curriculum):
        cells, days = per_learner.setdefault(learner, ({}, {}))
        summarise(cells, days, curriculum, verb, object_id, timestamp, orjson.loads(body) if verb in SUMMARISED_BODIES else None)
    return ({(learner, lesson): cell for learner, (cells, _) in per_learner.items() for lesson, cell in cells.items()},
            {(learner, day): tally for learner, (_, days) in per_learner.items() for day, tally in days.items()})


def region_rows(store: Store, curriculum: str) -> list[dict]:
    """A central's regions: [{region, schools, learners, done}] (done: lessons completed), by region;
    the learners of schools with no region under ''. From learners and lesson_progress alone."""
    rows = store.query(
        "SELECT s.region, COUNT(DISTINCT s.id), COUNT(DISTINCT l.id), "
        "(SELECT COUNT(*) FROM lesson_progress p JOIN learners pl ON pl.curriculum = p.curriculum AND pl.id = p.learner "
        "JOIN schools ps ON ps.id = pl.school WHERE p.curriculum = ? AND p.completed = 1 AND ps.region = s.region) "
        "FROM schools s LEFT JOIN learners l ON l.curriculum = ? AND l.school = s.id GROUP BY s.region ORDER BY s.region",
        curriculum, curriculum)
    return [{"region": region, "schools": schools, "learners": learners, "done": done} for region, schools, learners, done in rows]


def school_rows(store: Store, curriculum: str, region: str) -> list[dict]:
    """A region's schools: [{id, name, learners, done, classes}], by name."""
    rows = store.query(
        "SELECT s.id, s.name, (SELECT COUNT(*) FROM learners l WHERE l.curriculum = ? AND l.school = s.id), "
        "(SELECT COUNT(*) FROM lesson_progress p JOIN learners pl ON pl.curriculum = p.curriculum AND pl.id = p.learner "
        "WHERE p.curriculum = ? AND p.completed = 1 AND pl.school = s.id), "
        "(SELECT COUNT(*) FROM classes c WHERE c.curriculum = ? AND c.school = s.id) "
        "FROM schools s WHERE s.region = ? ORDER BY s.name, s.id", curriculum, curriculum, curriculum, region)
    return [{"id": i, "name": n, "learners": count, "done": done, "classes": classes} for i, n, count, done, classes in rows]


def class_report(store: Store, curriculum: dict, language: str, school: str, class_id: str) -> dict | None:
    """One class (or group): per lesson, how many of its learners opened and completed it and their
    best scores' average, and activity per day, from lesson_progress and activity_days joined with
    its membership, never from statements; None for a class this school has not."""
    cid = curriculum["id"]
    found = store.class_of(cid, school, class_id)
    if found is None:
        return None
    member = "JOIN class_members m ON m.curriculum = p.curriculum AND m.learner = p.learner AND m.school = ? AND m.class = ?"
    per_lesson = {lesson: (opened, completed, tried, best_sum) for lesson, opened, completed, tried, best_sum in store.query(
        f"SELECT p.lesson, SUM(p.opened), SUM(p.completed), SUM(CASE WHEN p.best IS NULL THEN 0 ELSE 1 END), SUM(COALESCE(p.best, 0)) "
        f"FROM lesson_progress p {member} WHERE p.curriculum = ? GROUP BY p.lesson", school, class_id, cid)}
    days = store.query(f"SELECT p.day, COUNT(*), SUM(p.statements), SUM(p.seconds) FROM activity_days p {member} "
                       "WHERE p.curriculum = ? GROUP BY p.day ORDER BY p.day DESC LIMIT 366", school, class_id, cid)
    most = max((row[3] for row in days), default=0)
    lessons = []
    for lesson in lesson_outline(curriculum, language):
        opened, completed, tried, best_sum = per_lesson.get(lesson["id"], (0, 0, 0, 0))
        lessons.append({**lesson, "opened": opened, "completed": completed,
                        "average_best": round(100 * best_sum / tried) if tried else None})
    return {"class": dict(zip(("id", "name", "parent"), found, strict=True)), "school": school,
            "members": len(store.class_members(cid, school, class_id)), "lessons": lessons,
            "taught": taught_lessons(store, curriculum, language, school, class_id),
            "days": [{"day": day, "learners": learners, "statements": count, "seconds": seconds,
                      "percent": round(100 * seconds / most) if most else 0} for day, learners, count, seconds in days]}


def taught_lessons(store: Store, curriculum: dict, language: str, school: str, class_id: str) -> list[dict]:
    """What a class was taught on the classroom TV (hub/tv.py), newest first: each lesson's title, when,
    and the class's results on its questions ("12 of 30 right"), from the class's Group statements."""
    import orjson
    titles = {lesson["id"]: lesson for lesson in lesson_outline(curriculum, language)}
    taught = []
    for lesson, timestamp, body in store.class_sessions(curriculum["id"], school, class_id):
        known = titles.get(lesson, {"title": lesson, "subject_title": ""})
        results = (orjson.loads(body).get("result") or {}).get("extensions", {}).get(CLASS_RESULTS, [])
        taught.append({"id": lesson, "title": known["title"], "subject_title": known["subject_title"], "when": timestamp,
                       "results": results if isinstance(results, list) else []})
    return taught


CLASS_RESULTS = "urn:satchel:class-results"  # hub/tv.py: [{question: "quiz-0-1", right, total}]


REPORT_MAX = 5_000  # learners on a printed report, at most (a filter narrows it)


def print_report(store: Store, curriculum: dict, language: str, filters: Filters, limit: int = REPORT_MAX) -> dict:
    """The printable report's learners: those the filters keep (every page of them, up to `limit`),
    each with lessons done per subject in view and last activity; and the subjects in view."""
    cid = curriculum["id"]
    lessons = lesson_outline(curriculum, language)
    shown = [lesson for lesson in lessons if not filters.subject or lesson["subject"] == filters.subject]
    matching, rows = learner_rows(store, cid, [lesson["id"] for lesson in shown], filters, limit)
    subject_of = {lesson["id"]: lesson["subject"] for lesson in shown}
    subjects = {}
    for lesson in shown:
        subjects.setdefault(lesson["subject"], {"id": lesson["subject"], "title": lesson["subject_title"], "lessons": 0})["lessons"] += 1
    done: dict = {}
    ids = [row[0] for row in rows]
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for learner, lesson in store.query("SELECT learner, lesson FROM lesson_progress WHERE curriculum = ? AND completed = 1 "
                                           f"AND learner IN ({_marks(part)})", cid, *part):
            if lesson in subject_of:
                per = done.setdefault(learner, {})
                per[subject_of[lesson]] = per.get(subject_of[lesson], 0) + 1
    return {"matching": matching, "subjects": list(subjects.values()),
            "learners": [{"id": r[0], "name": r[1], "done": r[4], "last": r[5], "school": r[6], "by_subject": done.get(r[0], {})}
                         for r in rows]}


def most_missed(totals: dict, lessons: list[dict], top: int = 15) -> list[dict]:
    """The questions most often missed: {(lesson, quiz, question): (tried, right)} (Store.question_totals,
    or the same counted for some learners) as [{lesson, quiz, question (from 1), tried, right, missed}],
    the largest share missed first, of those some learner missed."""
    outline = {lesson["id"]: lesson for lesson in lessons}
    out = [{"lesson": outline[lesson], "quiz": quiz + 1, "question": question + 1, "tried": tried, "right": right, "missed": tried - right}
           for (lesson, quiz, question), (tried, right) in totals.items() if lesson in outline and tried > right]
    out.sort(key=lambda q: (-q["missed"] / q["tried"], -q["missed"], q["lesson"]["title"], q["quiz"], q["question"]))
    return out[:top]
