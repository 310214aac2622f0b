"""The teacher dashboard, under /_hub/ (no curriculum, subject or language id starts with '_').

A teacher signs in with the hub's password (`satchel hub set-password`). The signed cookie
(Starlette's SessionMiddleware) carries a random session id; the session is open while the hub's
database has it (signing out, or a new password, ends it in every worker process). Every form
carries the session's CSRF token; wrong passwords are limited per address and for the account
(hub/auth.py, SignInLimits). Pages are Jinja2 templates with autoescaping, so what
learners typed (their names) is always shown as text. Translated with hub/strings/<lang>.yml, whose
counts are plural mappings (builder/strings.py, render) and numbers are written as the locale does."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import urllib.parse
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import anyio
import orjson
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from satchel.builder.curriculum import RTL_LANGUAGES
from satchel.builder.strings import format_number, lookup_chain, render
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from . import intake
from .auth import SignInLimits, check_password
from .exports import RETRY_SECONDS, Exports
from .progress import Refused
from .report import (
    PAGE_SIZE,
    Filters,
    Report,
    build_report,
    class_report,
    learner_report,
    learner_rows,
    lesson_outline,
    most_missed,
    print_report,
    region_rows,
    school_rows,
)
from .store import MAX_CLASS_NAME, Store

HERE = Path(__file__).parent
# Every language the hub has strings for (hub/strings/<tag>.yml), with its direction.
LANGUAGES = {path.stem: "rtl" if path.stem.split("-")[0] in RTL_LANGUAGES else "ltr" for path in sorted((HERE / "strings").glob("*.yml"))}
PASSWORD_KEY = "teacher_password"
SESSION_SECONDS = 8 * 3600  # a school day; the cookie (hub/app.py) lasts as long
BLOCK_SECONDS = "SATCHEL_HUB_SIGN_IN_BLOCK"  # environment: the first sign-in block, in seconds (60; tests make it short)
MAX_MEMBERS_FORM = 2_000  # learners ticked in one class form, at most
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@cache
def strings(language: str) -> dict[str, str | dict]:
    """The dashboard's strings: a text, or a plural mapping ({one: ..., other: ...}) for a count."""
    english = yaml.safe_load((HERE / "strings" / "en.yml").read_text(encoding="utf-8"))
    return {**english, **yaml.safe_load((HERE / "strings" / f"{language}.yml").read_text(encoding="utf-8"))}


templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))


def known_language(tag: str) -> str | None:
    """The hub's language for a BCP 47 tag, by truncation and implied script, any case:
    'sr-latn-RS' -> 'sr-Latn', 'zh-CN' -> 'zh-Hans', 'fr-CA' -> 'fr'; None if it has none."""
    by_case = {code.lower(): code for code in LANGUAGES}
    for candidate in lookup_chain(tag) if tag and len(tag) <= 35 else ():
        if candidate.lower() in by_case:
            return by_case[candidate.lower()]
    return None


def language_of(request: Request) -> str:
    asked = known_language(request.query_params.get("lang") or "")
    if asked:
        return asked
    for part in request.headers.get("accept-language", "").split(",")[:20]:
        code = known_language(part.split(";")[0].strip())
        if code:
            return code
    return "en"


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def session_key(session: str) -> str:
    """What the database keeps of a session id: its hash, so a copy of the database opens no session."""
    return hashlib.sha256(session.encode()).hexdigest()


async def csrf_ok(request: Request) -> tuple[bool, dict]:
    form = await request.form()
    sent = str(form.get("csrf", ""))
    return bool(sent) and hmac.compare_digest(sent, request.session.get("csrf", "")), dict(form)


def describe(statement: dict) -> str:
    """A statement in a few words for the teacher: verb, activity, score, when."""
    result = statement.get("result", {})
    score = result.get("score", {}).get("scaled")
    what = statement["object"]["id"].split(":lesson:", 1)[-1]
    return " ".join(part for part in (statement["verb"]["id"].rsplit("/", 1)[-1], what,
                                      f"{round(score * 100)} %" if isinstance(score, int | float) else "",
                                      statement["timestamp"][:16].replace("T", " ")) if part)


def answer_totals(rows: list[tuple]) -> dict[tuple, tuple[int, int]]:
    """{(lesson, quiz, question): (learners who answered, learners right at least once)} counted from
    Store.question_results rows (one per learner and question)."""
    counted: dict = {}
    for lesson, quiz, question, _, _answers, right in rows:
        tally = counted.setdefault((lesson, quiz, question), [0, 0])
        tally[0] += 1
        tally[1] += bool(right)
    return {key: tuple(tally) for key, tally in counted.items()}


def question_results(rows: list[tuple], lessons: list[dict], learners: list[dict], totals: dict | None = None) -> list[dict]:
    """Per lesson with answers, in curriculum order: each question (quiz and question numbers from 1)
    with how many learners answered it and how many of them got it right at least once, and each
    learner's answers ((answers, right answers), or None) in the same order. `rows` come from
    Store.question_results (the page's learners' rows will do), `totals` from Store.question_totals
    (over every learner); without `totals`, they are counted from `rows`, which must then be every
    learner's."""
    if totals is None:
        totals = answer_totals(rows)
    by_lesson: dict[str, dict] = {}
    for (lesson, quiz, question), (tried, right) in totals.items():
        if tried > 0:
            by_lesson.setdefault(lesson, {})[(quiz, question)] = (tried, right)
    answered: dict[tuple, dict] = {}
    for lesson, quiz, question, learner, answers, right in rows:
        answered.setdefault((lesson, quiz, question), {})[learner] = (answers, right)
    out = []
    for lesson in lessons:
        questions = by_lesson.get(lesson["id"])
        if not questions:
            continue
        order = sorted(questions)
        of = [answered.get((lesson["id"], *key), {}) for key in order]
        rows_of = [{"learner": learner, "answers": [given.get(learner["id"]) for given in of]}
                   for learner in learners if any(learner["id"] in given for given in of)]
        out.append({"lesson": lesson, "quizzes": len({quiz for quiz, _ in order}), "learners": rows_of,
                    "questions": [{"quiz": quiz + 1, "question": question + 1, "tried": questions[(quiz, question)][0],
                                   "right": questions[(quiz, question)][1]} for quiz, question in order]})
    return out


def grid_cells(report: Report, words: dict, language: str) -> dict[str, Markup]:
    """Each learner's row of grid cells (the lessons in view), as HTML: a cell's markup depends
    only on its lesson, its state and its best score, so each is made once per page and reused
    (a page is 50 learners x every lesson in view; rendering each cell through the template cost
    more than every query of the page). Titles and strings are escaped here."""
    lessons = report.shown_lessons()
    marks = {"done": ("✓", escape(words["done"])), "started": ("·", escape(words["started"])),
             "none": ("–", escape(words["not_opened"]))}
    titles = [escape(lesson["title"]) for lesson in lessons]
    made: dict[tuple, str] = {}
    out = {}
    for learner in report.learners:
        parts = []
        for n, lesson in enumerate(lessons):
            cell = report.cells.get((learner["id"], lesson["id"]))
            if cell is None:
                key = (n, "none", None)
            else:
                key = (n, "done" if cell.completed else "started" if cell.opened else "none",
                       None if cell.best is None else round(cell.best * 100))
            html = made.get(key)
            if html is None:
                mark, said = marks[key[1]]
                score = "" if key[2] is None else " " + str(escape(render(words["percent"], language, percent=key[2])))
                html = made[key] = (f'<td class="{key[1]}" title="{titles[n]}"><span aria-hidden="true">{mark}</span>'
                                    f'<span class="sr">{said}</span>{score}</td>')
            parts.append(html)
        out[learner["id"]] = Markup("\n".join(parts))  # noqa: S704 (every part escaped above)
    return out


class ExportResponse(StreamingResponse):
    """A streamed export (hub/exports.py) whose stream is closed however the response ends: a
    download cut off while waiting on the teacher's connection stops the export's process now,
    not whenever the abandoned generator is collected."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


def routes(store: Store, curricula: dict[str, dict], max_upload: int) -> list[Route]:
    limits = SignInLimits(block=float(os.environ.get(BLOCK_SECONDS, 60)))
    exports = Exports(store.url)  # this process's: at most one made at once (hub/exports.py)

    def page(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
        language = language_of(request)
        words = strings(language)
        html = templates.get_template(template).render(
            t=words, lang=language, dir=LANGUAGES[language], csrf=csrf_token(request),
            say=lambda key, **filled: render(words[key], language, **filled), number=lambda n: format_number(language, n), **values)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store", "x-frame-options": "DENY",
                                                               "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'"})

    async def teacher_signed_in(request: Request) -> bool:
        """The cookie names a session the database still has: not signed out, no new password since,
        not expired (one read by primary key)."""
        session = request.session.get("session")
        if not isinstance(session, str):
            return False
        if await run_in_threadpool(store.teacher_session_open, session_key(session)):
            return True
        del request.session["session"]
        return False

    async def end_session(request: Request) -> None:
        session = request.session.get("session")
        if isinstance(session, str):
            await run_in_threadpool(store.end_teacher_session, session_key(session))
        request.session.clear()

    def blocked(request: Request, wait: float) -> Response:
        seconds = math.ceil(wait)
        error, n = ("too_many_seconds", seconds) if seconds < 90 else ("too_many_minutes", math.ceil(seconds / 60))
        response = page(request, "login.html", status=429, error=error, n=n)
        response.headers["retry-after"] = str(seconds)
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login.html", error=None)
        address = request.client.host if request.client else "?"  # a proxy's client only with --trusted-proxy
        ok, form = await csrf_ok(request)
        if not ok:
            return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
        stored = await run_in_threadpool(store.meta, PASSWORD_KEY)
        if stored is None:
            return page(request, "login.html", status=503, error="no_password")
        wait = limits.start(address)  # counts this attempt as a failure until the password is right
        if wait:
            return blocked(request, wait)
        if not await run_in_threadpool(check_password, str(form.get("password", "")), stored):
            return page(request, "login.html", status=401, error="wrong_password")
        limits.succeeded(address)
        session = secrets.token_urlsafe(32)
        if not await run_in_threadpool(store.add_teacher_session, session_key(session), SESSION_SECONDS, PASSWORD_KEY, stored):
            return page(request, "login.html", status=401, error="wrong_password")  # a new password was set meanwhile
        await end_session(request)
        request.session.update(session=session, csrf=secrets.token_urlsafe(32))
        return RedirectResponse("/_hub/", status_code=303)

    async def logout(request: Request) -> Response:
        ok, _ = await csrf_ok(request)
        if not ok:
            return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
        await end_session(request)
        return RedirectResponse(f"/_hub/login?lang={language_of(request)}", status_code=303)

    async def home(request: Request) -> Response:
        if not await teacher_signed_in(request):
            return RedirectResponse("/_hub/login", status_code=303)
        if len(curricula) == 1:
            return RedirectResponse(f"/_hub/{next(iter(curricula))}/", status_code=303)
        return page(request, "curricula.html", curricula=sorted(curricula))

    async def curriculum_of(request: Request):
        """The curriculum asked for, for a signed-in teacher, else the response to send instead."""
        if not await teacher_signed_in(request):
            return RedirectResponse("/_hub/login", status_code=303)
        curriculum = curricula.get(request.path_params["curriculum"])
        if curriculum is None:
            return PlainTextResponse("No such curriculum on this hub.", status_code=404)
        return curriculum

    async def curriculum_page(request: Request) -> Response:
        """One page of learners (PAGE_SIZE), filtered and sorted as the query string says, so every
        link and the form keep the view with no script; read from the summaries alone."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        language = language_of(request)
        filters = Filters.of(request.query_params, {subject["id"] for subject in curriculum["subjects"]})
        report = await run_in_threadpool(build_report, store, curriculum, language, filters)
        conflicts = await run_in_threadpool(store.count_open_conflicts, curriculum["id"])
        totals = await run_in_threadpool(store.question_totals, curriculum["id"])
        unverified = await run_in_threadpool(store.unverified_counts, curriculum["id"])

        classes = await run_in_threadpool(store.classes, curriculum["id"], filters.school)

        def link(**changed) -> str:
            return "?" + urllib.parse.urlencode({"lang": language, **filters.query(**changed)})

        # Each learner's answers are on a page per lesson (questions_page); here, which lessons have
        # answers (their titles link there) and the questions most missed over every learner.
        answered = {lesson for lesson, _, _ in totals}
        return page(request, "dashboard.html", curriculum=curriculum, report=report, conflicts=conflicts, unverified=unverified,
                    classes=classes, cells=grid_cells(report, strings(language), language), answered=answered,
                    missed=most_missed(totals, report.lessons, top=10), link=link, filters=filters,
                    ask=lambda lesson: f"/_hub/{curriculum['id']}/questions{link()}&{urllib.parse.urlencode({'lesson': lesson})}",
                    quote=lambda text: urllib.parse.quote(text, safe=""))

    async def questions_page(request: Request) -> Response:
        """One lesson's answers, question by question: per question how many learners (of every
        learner) got it right of those who answered it, and each learner's answers for the learners
        of the dashboard's view (the same query string: filters, order and page)."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        language = language_of(request)
        lessons = lesson_outline(curriculum, language)
        lesson = next((lesson for lesson in lessons if lesson["id"] == request.query_params.get("lesson")), None)
        if lesson is None:
            return PlainTextResponse("No such lesson in this curriculum: follow a lesson's link on the dashboard.", status_code=404)
        filters = Filters.of(request.query_params, {subject["id"] for subject in curriculum["subjects"]})
        cid = curriculum["id"]
        shown = [one["id"] for one in lessons if not filters.subject or one["subject"] == filters.subject]
        matching, rows = await run_in_threadpool(learner_rows, store, cid, shown, filters, PAGE_SIZE, (filters.page - 1) * PAGE_SIZE)
        learners = [{"id": row[0], "name": row[1], "school": row[6]} for row in rows]
        answers = await run_in_threadpool(store.question_results, cid, [learner["id"] for learner in learners], lesson["id"])
        totals = await run_in_threadpool(store.question_totals, cid, lesson["id"])
        found = question_results(answers, [lesson], learners, totals)
        pages = max(1, -(-matching // PAGE_SIZE))

        def link(**changed) -> str:
            return "?" + urllib.parse.urlencode({"lang": language, **filters.query(**changed)})

        return page(request, "questions.html", curriculum=curriculum, lesson=lesson, questions=found[0] if found else None,
                    filters=filters, matching=matching, pages=pages, link=link,
                    here=lambda **changed: link(**changed) + "&" + urllib.parse.urlencode({"lesson": lesson["id"]}))

    async def learner_page(request: Request) -> Response:
        """What one learner did: each lesson's status, attempts, best score and time, and time per day."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        found = await run_in_threadpool(learner_report, store, curriculum, language_of(request), request.path_params["learner"])
        if found is None:
            return PlainTextResponse("No such learner in this curriculum.", status_code=404)
        return page(request, "learner.html", curriculum=curriculum, **found)

    def export_headers(cid: str, extension: str) -> dict:
        return {"content-disposition": f'attachment; filename="{cid}-progress.{extension}"', "cache-control": "no-store"}

    def view_of(request: Request, curriculum: dict) -> Filters:
        """The dashboard view an export follows: the grid's query string, every page of it."""
        filters = Filters.of(request.query_params, {subject["id"] for subject in curriculum["subjects"]})
        filters.page = 1
        return filters

    async def export(request: Request, fmt: str, media_type: str) -> Response:
        """Each learner x lesson of the view (hub/exports.py: made by a child process of its own,
        one at a time, so the rows never hold this worker's GIL; streamed as the child writes them)."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        if exports.full():
            return PlainTextResponse("Other teachers' exports are being made just now: try again in a minute.", status_code=503,
                                     headers={"retry-after": str(RETRY_SECONDS), "cache-control": "no-store"})
        filters = view_of(request, curriculum)
        lessons = [(lesson["id"], lesson["title"]) for lesson in lesson_outline(curriculum, language_of(request))
                   if not filters.subject or lesson["subject"] == filters.subject]
        return ExportResponse(exports.stream(curriculum["id"], lessons, filters, fmt), media_type=media_type,
                              headers=export_headers(curriculum["id"], fmt))

    async def csv_export(request: Request) -> Response:
        return await export(request, "csv", "text/csv; charset=utf-8")

    async def xlsx_export(request: Request) -> Response:
        """The CSV's rows as a workbook (openpyxl's write-only mode, in the child: rows go to disk as
        they come, so memory stays flat), streamed once written."""
        return await export(request, "xlsx", XLSX_TYPE)

    async def report_page(request: Request) -> Response:
        """A report to print: the curriculum's totals per subject, the learners of the dashboard's view
        (its query string's filters, every page of them) with lessons done per subject and last
        activity, and the questions most missed (by the view's learners, or by all with no filter).
        Printing is the browser's own (the pages' policy runs no script); print CSS in the page."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        cid, language = curriculum["id"], language_of(request)
        filters = Filters.of(request.query_params, {subject["id"] for subject in curriculum["subjects"]})
        filters.page = 1
        totals = await run_in_threadpool(build_report, store, curriculum, language, Filters(), 0)
        found = await run_in_threadpool(print_report, store, curriculum, language, filters)
        if filters.query(sort="name"):
            rows = await run_in_threadpool(store.question_results, cid, [learner["id"] for learner in found["learners"]])
            answered = answer_totals(rows)
        else:
            answered = await run_in_threadpool(store.question_totals, cid)
        schools = totals.schools
        classes = {row[0]: row[1] for row in await run_in_threadpool(store.classes, cid, filters.school)} if filters.klass else {}
        words = strings(language)
        shown = [(words["region"], filters.region), (words["school"], schools.get(filters.school, (filters.school, ""))[0]),
                 (words["filter_class"], classes.get(filters.klass, filters.klass)),
                 (words["filter_subject"], next((s["title"] for s in found["subjects"] if s["id"] == filters.subject), "")),
                 (words["filter_show"], words["show_" + filters.show] if filters.show != "all" else ""),
                 (words["filter_name"], filters.name)]
        return page(request, "report.html", curriculum=curriculum, totals=totals, schools=schools, filters=filters,
                    shown=[(label, value) for label, value in shown if value], made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    missed=most_missed(answered, totals.lessons), back="?" + urllib.parse.urlencode({"lang": language, **filters.query()}),
                    **found)

    async def usb_upload(request: Request) -> Response:
        """Progress files carried on a USB stick: chosen on the hub's own screen (or any device on its
        Wi-Fi) and sent as a plain form, so it works with no script. Each file is checked alone, as
        the API checks it; a signed-in teacher may also load unsigned files of learners who have a
        key (kept as unverified). The form carries the session's CSRF token, and a browser's
        request from another site is refused (Sec-Fetch-Site, and the SameSite cookie)."""
        results = []
        if request.method == "POST":
            if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return PlainTextResponse("Progress files are taken only from the hub's own page.", status_code=403)
            try:
                form = await request.form(max_files=100, max_fields=10, max_part_size=max_upload)
            except Exception as error:  # too many files, a part too big, a broken form
                return page(request, "upload.html", status=400, results=[{"name": "", "error": str(error)[:200]}])
            sent = str(form.get("csrf", ""))
            if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
                return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
            for upload in form.getlist("files"):
                if not hasattr(upload, "read"):
                    continue
                name = upload.filename or "?"
                data = await upload.read(max_upload + 1)
                if len(data) > max_upload:
                    results.append({"name": name, "error": f"bigger than {max_upload:,} bytes"})
                    continue
                status, answer = await intake.take(store, data, set(curricula), teacher=await teacher_signed_in(request))
                if status == 200:
                    learner = orjson.loads(data)["profile"]["name"]  # checked: it parses
                    results.append({"name": name, "learner": learner, "added": answer["new"], "known": answer["known"]})
                else:
                    results.append({"name": name, "error": answer["error"][:300]})
        return page(request, "upload.html", results=results)

    async def trust_page(request: Request) -> Response:
        """What needs the teacher: conflicting copies of statements (kept aside, never lost) to
        resolve, class codes that let a device enrol its learner, statements upstream refused."""
        if not await teacher_signed_in(request):
            return RedirectResponse("/_hub/login", status_code=303)
        curriculum = curricula.get(request.path_params["curriculum"])
        if curriculum is None:
            return PlainTextResponse("No such curriculum on this hub.", status_code=404)
        if request.method == "POST":
            ok, form = await csrf_ok(request)
            if not ok:
                return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
            if form.get("action") == "enrol":
                class_id = str(form.get("class", ""))
                known = {row[0] for row in await run_in_threadpool(store.classes, curriculum["id"])}
                if class_id and class_id not in known:
                    return PlainTextResponse("No such class on this hub.", status_code=404)
                await run_in_threadpool(store.add_enrolment, curriculum["id"], str(form.get("label", ""))[:100] or "-",
                                        class_id=class_id or None)
            elif form.get("action") in ("keep", "use"):
                await run_in_threadpool(store.resolve_conflict, curriculum["id"], str(form.get("digest", "")), form.get("action") == "use")
            return RedirectResponse(f"/_hub/{curriculum['id']}/trust?lang={language_of(request)}", status_code=303)
        conflicts = await run_in_threadpool(store.open_conflicts, curriculum["id"])
        for conflict in conflicts:
            conflict["new"] = describe(orjson.loads(conflict["body"]))
            conflict["old"] = describe(orjson.loads(conflict["stored_body"])) if conflict["stored_body"] else None
            conflict["name"] = conflict["name"] or conflict["learner"][:8]
            conflict["stored_name"] = conflict["stored_name"] or (conflict["stored_learner"] or "")[:8]
        quarantine = await run_in_threadpool(store.quarantine_summary)
        return page(request, "trust.html", curriculum=curriculum, conflicts=conflicts, quarantine=quarantine,
                    enrolments=await run_in_threadpool(store.enrolments, curriculum["id"]),
                    classes=await run_in_threadpool(store.classes, curriculum["id"]))

    async def regions_page(request: Request) -> Response:
        """A central's regions (learners, lessons done), or with ?region= the schools of one, each
        leading to the learner grid filtered to that school."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        region = request.query_params.get("region")
        if region is None:
            return page(request, "regions.html", curriculum=curriculum, regions=await run_in_threadpool(region_rows, store, curriculum["id"]),
                        region=None, quote=lambda text: urllib.parse.quote(text, safe=""))
        schools = await run_in_threadpool(school_rows, store, curriculum["id"], region[:100])
        return page(request, "regions.html", curriculum=curriculum, region=region[:100], schools=schools,
                    quote=lambda text: urllib.parse.quote(text, safe=""))

    async def classes_page(request: Request) -> Response:
        """This hub's classes and groups: a signed-in teacher makes them and ticks who is in each
        (forms with the session's CSRF token)."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        cid, language = curriculum["id"], language_of(request)
        error = None
        if request.method == "POST":
            try:
                form = await request.form(max_fields=MAX_MEMBERS_FORM + 10)
            except Exception:
                return PlainTextResponse("Too many fields in the form.", status_code=400)
            sent = str(form.get("csrf", ""))
            if not sent or not hmac.compare_digest(sent, request.session.get("csrf", "")):
                return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
            if form.get("action") == "make":
                name, parent = str(form.get("name", "")).strip(), str(form.get("parent", "")) or None
                made = await run_in_threadpool(store.add_class, cid, name, parent) if len(name) <= MAX_CLASS_NAME else None
                if made is None:
                    error = "class_refused"
            elif form.get("action") == "members":
                learners = [str(value)[:100] for value in form.getlist("learner")]
                if len(learners) > MAX_MEMBERS_FORM:
                    return PlainTextResponse("Too many learners in one form.", status_code=400)
                try:
                    if not await run_in_threadpool(store.set_class_members, cid, str(form.get("class", "")), learners):
                        return PlainTextResponse("No such class on this hub.", status_code=404)
                except Refused as refused:
                    return PlainTextResponse(str(refused), status_code=422)
            if error is None:
                return RedirectResponse(f"/_hub/{cid}/classes?lang={language}", status_code=303)
        classes = await run_in_threadpool(store.classes, cid)
        _, learners = await run_in_threadpool(learner_rows, store, cid, [lesson["id"] for lesson in lesson_outline(curriculum, language)],
                                              Filters(), MAX_MEMBERS_FORM)
        members = {class_id: await run_in_threadpool(store.class_members, cid, "", class_id) for class_id, *_ in classes}
        return page(request, "classes.html", status=422 if error else 200, curriculum=curriculum, classes=classes,
                    learners=learners, members=members, error=error)

    async def class_page(request: Request) -> Response:
        """One class: per lesson how many of its learners opened and completed it and their best scores'
        average, and activity per day; at a central, ?school= says whose class it is."""
        curriculum = await curriculum_of(request)
        if isinstance(curriculum, Response):
            return curriculum
        found = await run_in_threadpool(class_report, store, curriculum, language_of(request),
                                        request.query_params.get("school", "")[:100], request.path_params["class_id"][:64])
        if found is None:
            return PlainTextResponse("No such class.", status_code=404)
        return page(request, "class.html", curriculum=curriculum, **found)

    return [Route("/_hub/upload", usb_upload, methods=["GET", "POST"]),
            Route("/_hub/login", login, methods=["GET", "POST"]), Route("/_hub/logout", logout, methods=["POST"]),
            Route("/_hub/", home), Route("/_hub/{curriculum}/", curriculum_page), Route("/_hub/{curriculum}/progress.csv", csv_export),
            Route("/_hub/{curriculum}/progress.xlsx", xlsx_export), Route("/_hub/{curriculum}/report", report_page),
            Route("/_hub/{curriculum}/questions", questions_page),
            Route("/_hub/{curriculum}/learner/{learner}", learner_page),
            Route("/_hub/{curriculum}/trust", trust_page, methods=["GET", "POST"]),
            Route("/_hub/{curriculum}/regions", regions_page),
            Route("/_hub/{curriculum}/classes", classes_page, methods=["GET", "POST"]),
            Route("/_hub/{curriculum}/class/{class_id}", class_page)]
