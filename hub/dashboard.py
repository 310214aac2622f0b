"""The teacher dashboard, under /_hub/ (no curriculum, subject or language id starts with '_').

A teacher signs in with the hub's password (`satchel hub set-password`). The session is a signed
cookie (Starlette's SessionMiddleware); every form carries the session's CSRF token; wrong
passwords are rate-limited per address. Pages are Jinja2 templates with autoescaping, so what
learners typed (their names) is always shown as text. Translated with hub/strings/<lang>.yml."""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
from functools import cache
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .auth import RateLimit, check_password
from .progress import BadProgress, check
from .report import build_report
from .store import Store

HERE = Path(__file__).parent
LANGUAGES = {"en": "ltr", "fr": "ltr", "ar": "rtl"}
PASSWORD_KEY = "teacher_password"


@cache
def strings(language: str) -> dict[str, str]:
    english = yaml.safe_load((HERE / "strings" / "en.yml").read_text(encoding="utf-8"))
    return {**english, **yaml.safe_load((HERE / "strings" / f"{language}.yml").read_text(encoding="utf-8"))}


templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))


def language_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return "en"


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


async def csrf_ok(request: Request) -> tuple[bool, dict]:
    form = await request.form()
    sent = str(form.get("csrf", ""))
    return bool(sent) and hmac.compare_digest(sent, request.session.get("csrf", "")), dict(form)


def routes(store: Store, curricula: dict[str, dict], max_upload: int) -> list[Route]:
    limit = RateLimit(count=5, seconds=300)  # wrong passwords per address

    def page(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
        language = language_of(request)
        html = templates.get_template(template).render(t=strings(language), lang=language, dir=LANGUAGES[language],
                                                       csrf=csrf_token(request), **values)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store", "x-frame-options": "DENY",
                                                               "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'"})

    def signed_in(request: Request) -> bool:
        return request.session.get("teacher") is True

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login.html", error=None)
        address = request.client.host if request.client else "?"
        ok, form = await csrf_ok(request)
        if not ok:
            return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
        if limit.blocked(address):
            return page(request, "login.html", status=429, error="too_many")
        stored = await run_in_threadpool(store.meta, PASSWORD_KEY)
        if stored is None:
            return page(request, "login.html", status=503, error="no_password")
        if not await run_in_threadpool(check_password, str(form.get("password", "")), stored):
            limit.record(address)
            return page(request, "login.html", status=401, error="wrong_password")
        request.session.clear()
        request.session.update(teacher=True, csrf=secrets.token_urlsafe(32))
        return RedirectResponse("/_hub/", status_code=303)

    async def logout(request: Request) -> Response:
        ok, _ = await csrf_ok(request)
        if not ok:
            return PlainTextResponse("The form was too old or came from elsewhere: reload the page and try again.", status_code=403)
        request.session.clear()
        return RedirectResponse("/_hub/login", status_code=303)

    async def home(request: Request) -> Response:
        if not signed_in(request):
            return RedirectResponse("/_hub/login", status_code=303)
        if len(curricula) == 1:
            return RedirectResponse(f"/_hub/{next(iter(curricula))}/", status_code=303)
        return page(request, "curricula.html", curricula=sorted(curricula))

    async def report_of(request: Request):
        """(curriculum, report) for a signed-in teacher, else the response to send instead."""
        if not signed_in(request):
            return RedirectResponse("/_hub/login", status_code=303)
        curriculum = curricula.get(request.path_params["curriculum"])
        if curriculum is None:
            return PlainTextResponse("No such curriculum on this hub.", status_code=404)
        return curriculum, await run_in_threadpool(build_report, store, curriculum, language_of(request))

    async def curriculum_page(request: Request) -> Response:
        found = await report_of(request)
        if isinstance(found, Response):
            return found
        curriculum, report = found
        return page(request, "dashboard.html", curriculum=curriculum, report=report)

    async def csv_export(request: Request) -> Response:
        found = await report_of(request)
        if isinstance(found, Response):
            return found
        curriculum, report = found
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["learner_id", "learner", "lesson_id", "lesson", "opened", "completed", "best_score", "attempts", "seconds"])
        for learner in report.learners:
            for lesson in report.lessons:
                cell = report.cell(learner["id"], lesson["id"])
                # A leading =, +, - or @ would make a spreadsheet run a formula: quote it.
                name = "'" + learner["name"] if learner["name"][:1] in "=+-@" else learner["name"]
                writer.writerow([learner["id"], name, lesson["id"], lesson["title"], int(cell.opened), int(cell.completed),
                                 "" if cell.best is None else round(cell.best, 3), cell.attempts, cell.seconds])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{curriculum["id"]}-progress.csv"', "cache-control": "no-store"})

    async def usb_upload(request: Request) -> Response:
        """Progress files carried on a USB stick: chosen on the hub's own screen (or any device on its
        Wi-Fi) and sent as a plain form, so it works with no script. Each file is checked alone."""
        results = []
        if request.method == "POST":
            try:
                form = await request.form(max_files=100, max_fields=10, max_part_size=max_upload)
            except Exception as error:  # too many files, a part too big, a broken form
                return page(request, "upload.html", status=400, results=[{"name": "", "error": str(error)[:200]}])
            for upload in form.getlist("files"):
                if not hasattr(upload, "read"):
                    continue
                name = upload.filename or "?"
                data = await upload.read(max_upload + 1)
                try:
                    if len(data) > max_upload:
                        raise BadProgress(f"bigger than {max_upload:,} bytes")
                    progress = json.loads(data)
                    check(progress, set(curricula))
                except (ValueError, RecursionError) as error:
                    results.append({"name": name, "error": str(error)[:300]})
                    continue
                added, known = await store.add_file(progress)
                results.append({"name": name, "learner": progress["profile"]["name"], "added": added, "known": known})
        return page(request, "upload.html", results=results)

    return [Route("/_hub/upload", usb_upload, methods=["GET", "POST"]),
            Route("/_hub/login", login, methods=["GET", "POST"]), Route("/_hub/logout", logout, methods=["POST"]),
            Route("/_hub/", home), Route("/_hub/{curriculum}/", curriculum_page), Route("/_hub/{curriculum}/progress.csv", csv_export)]
