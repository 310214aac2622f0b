"""The classroom TV on the hub (theme/assets/satchel/tv.js; docs/hub.md, "Classroom TV"): the screen
a TV shows, kept for a teacher's phone to follow, and the lessons a teacher marks taught to a class,
stored as xAPI statements whose actor is the class (a Group).

    GET  /_hub/tv/session?curriculum=ID        {teacher, csrf, classes}: is this browser the teacher's
    GET  /_hub/tv/state?curriculum=ID&room=R   the room's screen {seq, lesson, screen, revealed, from}
    POST /_hub/tv/state?curriculum=ID&room=R   set it (the TV, or the phone driving it)
    POST /_hub/tv/taught                       {curriculum, lesson, language, class, results} -> 201

Everything but /session needs a signed-in teacher (the dashboard's session cookie), and each POST
the session's CSRF token in `x-satchel-csrf` (docs/security.md, "The classroom TV")."""

from __future__ import annotations

import hmac
import re
import uuid

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import xapi
from .dashboard import csrf_token, session_key
from .report import CLASS_RESULTS
from .store import MAX_CLASS_NAME, Store, now

ROOM_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
LANGUAGE_RE = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,6}")
QUESTION_RE = re.compile(r"quiz-[0-9]{1,4}-[0-9]{1,4}")
MAX_STATE_BYTES = 1_000
MAX_TAUGHT_BYTES = 16_000
MAX_ROOMS = 50  # rooms (TVs) per curriculum whose screen the hub keeps
MAX_RESULTS = 100  # questions of one lesson with a class result
MAX_SCREEN = 10_000
MAX_LEARNERS = 1_000  # in a class's result
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"  # ADL's verb: the class (a Group) attended the lesson
LESSON_TYPE = "http://adlnet.gov/expapi/activities/lesson"


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store"})


def lesson_ids(curriculum: dict) -> set[str]:
    return {lesson["id"] for subject in curriculum["subjects"] for unit in subject["units"] for lesson in unit["lessons"]}


def lesson_title(curriculum: dict, lesson_id: str, language: str) -> dict:
    for subject in curriculum["subjects"]:
        for unit in subject["units"]:
            for lesson in unit["lessons"]:
                if lesson["id"] == lesson_id:
                    titles = lesson["title"]
                    return {language: titles.get(language) or next(iter(titles.values()), lesson_id)}
    return {language: lesson_id}


def taught_statement(curriculum: str, class_id: str, class_name: str, lesson: str, language: str, title: dict,
                     results: list[dict]) -> dict:
    """The xAPI statement of a lesson taught to a class: the class (a Group, identified by an
    account on the curriculum's home page) attended the lesson; the teacher is its instructor."""
    home = f"urn:satchel:{curriculum}"
    statement = {
        "id": str(uuid.uuid4()),
        "timestamp": now(),
        "actor": {"objectType": "Group", "name": class_name, "account": {"homePage": home, "name": f"class:{class_id or class_name}"}},
        "verb": {"id": ATTENDED, "display": {"en-US": "attended"}},
        "object": {"objectType": "Activity", "id": f"{home}:lesson:{lesson}", "definition": {"name": title, "type": LESSON_TYPE}},
        "context": {"language": language, "instructor": {"objectType": "Agent", "account": {"homePage": home, "name": "teacher"}}},
    }
    if results:
        statement["result"] = {"extensions": {CLASS_RESULTS: results}}
    return statement


def check_results(results) -> list[dict] | str:
    """The class's results as sent ([{question, right, total}]), checked; or what is wrong."""
    if results is None:
        return []
    if not isinstance(results, list) or len(results) > MAX_RESULTS:
        return f"results: a list of at most {MAX_RESULTS} {{question, right, total}}"
    checked = []
    for item in results:
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not QUESTION_RE.fullmatch(item["question"]):
            return "results: each question is named as 'quiz-<quiz>-<question>', such as quiz-0-1"
        right, total = item.get("right"), item.get("total")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (right, total)) or not 0 <= right <= total <= MAX_LEARNERS or total < 1:
            return f"results: 'right' and 'total' are whole numbers, 0 <= right <= total, 1 <= total <= {MAX_LEARNERS}"
        checked.append({"question": item["question"], "right": right, "total": total})
    return checked


def routes(store: Store, curricula: dict[str, dict]) -> list[Route]:
    async def teacher(request: Request) -> bool:
        session = request.session.get("session")
        return isinstance(session, str) and await run_in_threadpool(store.teacher_session_open, session_key(session))

    def csrf_ok(request: Request) -> bool:
        sent = request.headers.get("x-satchel-csrf", "")
        return bool(sent) and hmac.compare_digest(sent, request.session.get("csrf", ""))

    async def json_body(request: Request, limit: int):
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem(415, "send application/json")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return problem(413, f"at most {limit:,} bytes")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return problem(413, f"at most {limit:,} bytes")
        except ClientDisconnect:
            return problem(400, "the request was cut off")
        try:
            data = orjson.loads(bytes(body))
        except orjson.JSONDecodeError as error:
            return problem(400, f"not JSON: {str(error)[:200]}")
        return data if isinstance(data, dict) else problem(422, "send a JSON object")

    async def guarded(request: Request, post: bool):
        """The curriculum asked for, if the teacher is signed in (and, for a POST, sent the CSRF token)."""
        if not await teacher(request):
            return problem(401, "sign in to the hub as the teacher (/_hub/login) first")
        if post and not csrf_ok(request):
            return problem(403, "missing or wrong x-satchel-csrf header: reload the page")
        curriculum = curricula.get(request.query_params.get("curriculum", "")[:100])
        return curriculum if curriculum is not None else problem(404, "no such curriculum on this hub")

    async def session(request: Request):
        curriculum = curricula.get(request.query_params.get("curriculum", "")[:100])
        if not await teacher(request):
            return JSONResponse({"teacher": False}, headers={"cache-control": "no-store"})
        classes = []
        if curriculum is not None:
            classes = [{"id": i, "name": n} for i, n, _parent, _members in await run_in_threadpool(store.classes, curriculum["id"])]
        return JSONResponse({"teacher": True, "csrf": csrf_token(request), "classes": classes}, headers={"cache-control": "no-store"})

    async def state(request: Request):
        curriculum = await guarded(request, request.method == "POST")
        if isinstance(curriculum, JSONResponse):
            return curriculum
        room = request.query_params.get("room", "tv")
        if not ROOM_RE.fullmatch(room):
            return problem(422, "room: 1 to 40 letters, digits, '-' or '_'")
        key = f"tv:{curriculum['id']}:{room}"
        kept = await run_in_threadpool(store.meta, key)
        if request.method == "GET":
            return JSONResponse(orjson.loads(kept) if kept else {"seq": 0}, headers={"cache-control": "no-store"})
        data = await json_body(request, MAX_STATE_BYTES)
        if isinstance(data, JSONResponse):
            return data
        lesson, screen, revealed, sender = data.get("lesson"), data.get("screen", 0), data.get("revealed", False), data.get("from", "")
        if lesson is not None and lesson not in lesson_ids(curriculum):
            return problem(422, "lesson: not a lesson of this curriculum")
        if not isinstance(screen, int) or isinstance(screen, bool) or not 0 <= screen <= MAX_SCREEN:
            return problem(422, f"screen: a whole number from 0 to {MAX_SCREEN}")
        if not isinstance(revealed, bool) or not isinstance(sender, str) or len(sender) > 40:
            return problem(422, "revealed: true or false; from: at most 40 characters")
        if kept is None:
            rooms = await run_in_threadpool(store.query, "SELECT COUNT(*) FROM meta WHERE key LIKE ?", f"tv:{curriculum['id']}:%")
            if rooms[0][0] >= MAX_ROOMS:
                return problem(507, f"this hub keeps the screens of {MAX_ROOMS} rooms already")
        seq = (orjson.loads(kept)["seq"] if kept else 0) + 1
        shown = {"seq": seq, "lesson": lesson, "screen": screen, "revealed": revealed, "from": sender}
        await run_in_threadpool(store.set_meta, key, orjson.dumps(shown).decode())
        return JSONResponse(shown, headers={"cache-control": "no-store"})

    async def taught(request: Request):
        if not await teacher(request):
            return problem(401, "sign in to the hub as the teacher (/_hub/login) first")
        if not csrf_ok(request):
            return problem(403, "missing or wrong x-satchel-csrf header: reload the page")
        data = await json_body(request, MAX_TAUGHT_BYTES)
        if isinstance(data, JSONResponse):
            return data
        curriculum = curricula.get(str(data.get("curriculum", ""))[:100])
        if curriculum is None:
            return problem(404, "curriculum: no such curriculum on this hub")
        lesson, language, name = data.get("lesson"), data.get("language"), data.get("class")
        if lesson not in lesson_ids(curriculum):
            return problem(422, "lesson: not a lesson of this curriculum")
        if not isinstance(language, str) or not LANGUAGE_RE.fullmatch(language):
            return problem(422, "language: a BCP 47 tag, such as fr or sr-Latn")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_CLASS_NAME:
            return problem(422, f"class: the class's name, 1 to {MAX_CLASS_NAME} characters")
        results = check_results(data.get("results"))
        if isinstance(results, str):
            return problem(422, results)
        name = name.strip()
        classes = await run_in_threadpool(store.classes, curriculum["id"])
        found = next((c for c in classes if c[0] == name), None) or next((c for c in classes if c[1].casefold() == name.casefold()), None)
        class_id, class_name = (found[0], found[1]) if found else ("", name)
        statement = taught_statement(curriculum["id"], class_id, class_name, lesson, language, lesson_title(curriculum, lesson, language), results)
        wrong = xapi.problem(statement)
        if wrong:  # a class name or title an LRS would refuse: say so rather than keep it
            return problem(422, wrong)
        if not await run_in_threadpool(store.add_class_session, curriculum["id"], "", class_id, class_name, lesson, statement):
            return problem(507, "this hub keeps no more lessons taught for this curriculum")
        return JSONResponse({"id": statement["id"], "class": class_name, "class_id": class_id or None}, status_code=201)

    return [Route("/_hub/tv/session", session), Route("/_hub/tv/state", state, methods=["GET", "POST"]),
            Route("/_hub/tv/taught", taught, methods=["POST"])]
