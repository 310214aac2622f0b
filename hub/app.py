"""The hub's web application (Starlette, run by uvicorn): the bundles it serves, and the API.

    POST /api/progress   a progress file (docs/progress.md) -> {"new": n, "known": k}; or a batch of
                         files (hub/intake.py) -> {"files": [{"status": s, ...}, ...], "refused": [...]}
    GET  /api/health     {"ok": true, "curricula": [...]}
    GET  /_hub/health    for monitoring: database reachable, bundles and versions, free disk, certificate days left
    GET  /api/openapi.json   this API, in OpenAPI 3.1 (docs/hub-openapi.json)
    GET  /api/push/key   the hub's VAPID public key, for devices to subscribe
    POST/DELETE /api/push/subscriptions   a device's push subscription, kept or forgotten

One bundle is served at /; several are served at /<curriculum id>/, with a list at /."""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path

import orjson
from satchel.builder.archive import Archive
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from . import dashboard, intake, push, tv
from .archives import POINTER, ArchiveFiles, Imported
from .auth import RateLimit
from .openapi import openapi
from .progress import BadProgress
from .schools import NotAllowed, school_of
from .static import BundleFiles
from .store import Store

DEFAULT_MAX_UPLOAD = 10 * 1000 * 1000


class TooBig(Exception):
    pass


def curriculum_of(site: Path) -> dict:
    path = site / "satchel" / "curriculum.json"
    if not path.is_file():
        raise FileNotFoundError(f"{site} is not a Satchel bundle (no satchel/curriculum.json): build one with `satchel build -o {site}`")
    return json.loads(path.read_text(encoding="utf-8"))


def open_bundle(path: Path) -> tuple[dict, object]:
    """A bundle's curriculum and the ASGI app serving its files: a folder built by `satchel build`,
    a `.satchel` archive (`satchel pack`), or a curriculum imported into the data directory
    (`satchel hub import`). Raises FileNotFoundError or ArchiveError, saying why."""
    if path.is_dir() and (path / POINTER).is_file():
        files = Imported(path)
        return json.loads(files.files.archive.read("satchel/curriculum.json")), files
    if path.is_file():
        archive = Archive.open(path)
        return json.loads(archive.read("satchel/curriculum.json")), ArchiveFiles(archive)
    return curriculum_of(path), BundleFiles(path)


def direct(files):
    """A bundle's files served with no router in between (most of what a hub serves); the 404 of
    a missing file, raised by Starlette's StaticFiles, is answered here."""
    async def serve(scope, receive, send):
        if scope["type"] != "http":
            return
        try:
            await files(scope, receive, send)
        except HTTPException as error:
            await PlainTextResponse(error.detail, error.status_code, headers=error.headers)(scope, receive, send)
    return serve


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooBig
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooBig
    return bytes(body)


def create_app(sites: list[Path], store: Store, max_upload: int = DEFAULT_MAX_UPLOAD, secure: bool = False,
               data_dir: Path | None = None, tls_cert: Path | None = None):
    """The hub's ASGI app; `data_dir` is its data directory (push keys live there); `tls_cert` the
    certificate served (default DATA/tls/cert.pem, if there), whose days left /_hub/health tells."""
    opened = [open_bundle(site) for site in sites]
    described = [curriculum for curriculum, _ in opened]
    curricula = {curriculum["id"]: files for curriculum, files in opened}

    async def upload(request: Request):
        try:
            school = school_of(request.headers, store)  # None: from a device (hub/schools.py)
        except NotAllowed as refusal:
            return refusal.response()
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem(415, "send the progress file as application/json")
        try:
            body = await read_body(request, max_upload)
        except TooBig:
            return problem(413, f"a progress file is at most {max_upload:,} bytes")
        except ClientDisconnect:  # the device went away, or was cut off by a deadline (hub/connections.py)
            return problem(400, "the upload was cut off before its end; nothing was stored")
        enrolment = request.headers.get("satchel-enrolment")
        if enrolment is not None and len(enrolment) > intake.MAX_ENROLMENT:
            return problem(422, f"a class code (satchel-enrolment) is at most {intake.MAX_ENROLMENT} characters")
        if intake.is_batch(body):  # many learners' files at once, as a school hub forwards them (hub/intake.py)
            try:
                files = (await run_in_threadpool(intake.batch_files, body) if len(body) > intake.OFF_LOOP_BYTES
                         else intake.batch_files(body))
            except BadProgress as refusal:
                return problem(refusal.status, str(refusal))
            if files is not None:
                status, answer = await intake.take_batch(store, body, files, set(curricula), school=school, enrolment=enrolment)
                return JSONResponse(answer, status_code=status)
        status, answer = await intake.take(store, body, set(curricula), school=school, enrolment=enrolment)
        return JSONResponse(answer, status_code=status)

    subscribing = RateLimit(count=10, seconds=60)

    async def push_key(request: Request):
        config = push.settings(data_dir) if data_dir else None
        if config is None:
            return problem(404, "this hub sends no notifications (no push keys: satchel hub push-keys)")
        return JSONResponse({"publicKey": config["public_key"]})

    async def push_subscription(request: Request):
        """POST: keep a device's subscription; DELETE: forget it (its endpoint in the body)."""
        if not subscribing.allow(request.client.host if request.client else ""):
            return JSONResponse({"error": "too many requests: try again in a minute"}, status_code=429, headers={"retry-after": "60"})
        config = push.settings(data_dir) if data_dir else None
        if config is None:
            return problem(404, "this hub sends no notifications (no push keys: satchel hub push-keys)")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem(415, "send the subscription as application/json")
        try:
            body = orjson.loads(await read_body(request, push.MAX_SUBSCRIPTION_BYTES))
        except TooBig:
            return problem(413, f"a subscription is at most {push.MAX_SUBSCRIPTION_BYTES} bytes")
        except (ValueError, RecursionError) as error:
            return problem(400, f"not JSON: {str(error)[:200]}")
        if request.method == "DELETE":
            endpoint = body.get("endpoint") if isinstance(body, dict) else None
            if not isinstance(endpoint, str):
                return problem(422, "send {endpoint} of the subscription to forget")
            return JSONResponse({"removed": await run_in_threadpool(store.remove_push_subscription, endpoint)})
        try:  # in a thread: it resolves the endpoint's name
            fields = await run_in_threadpool(push.check_subscription, body, {c["id"]: c for c in described},
                                             push.test_endpoints(config))
        except push.BadSubscription as error:
            return problem(422, str(error))
        endpoint, curriculum = fields[:2]
        limit = push.max_subscriptions(config)
        if await run_in_threadpool(store.count_push_subscriptions, curriculum) >= limit and \
                not await run_in_threadpool(store.query, "SELECT 1 FROM push_subscriptions WHERE endpoint = ?", endpoint):
            return problem(507, f"this hub already keeps {limit:,} subscriptions for {curriculum}, as many as it takes: "
                                "tell whoever runs the hub (satchel hub push-keys --max-subscriptions)")
        await run_in_threadpool(store.add_push_subscription, *fields)
        return JSONResponse({"ok": True}, status_code=201)

    async def health(request: Request):
        return JSONResponse({"ok": True, "curricula": sorted(curricula)})

    def hub_health() -> tuple[int, dict]:
        """No learner data: what a monitor needs to know the hub works (docs/hub.md, "Doctor")."""
        import shutil
        from importlib.metadata import PackageNotFoundError, version

        from .doctor import days_left, load_chain, now_utc, served_certificate
        try:
            store.query("SELECT 1")
            database = True
        except Exception:
            database = False
        try:
            satchel_version = version("satchel")
        except PackageNotFoundError:
            satchel_version = "unknown"
        cert_path = tls_cert or (served_certificate(data_dir, None) if data_dir else None)
        try:
            left = days_left(load_chain(cert_path)[0], now_utc()) if cert_path else None
        except (OSError, ValueError):
            left = None
        answer = {"ok": database, "version": satchel_version, "database": database,
                  "bundles": [{"curriculum": c["id"], "version": c.get("version")} for c in described],
                  "free_disk_bytes": shutil.disk_usage(data_dir or ".").free, "certificate_days_left": left}
        return (200 if database else 503), answer

    async def hub_health_endpoint(request: Request):
        status, answer = await run_in_threadpool(hub_health)
        return JSONResponse(answer, status_code=status, headers={"cache-control": "no-store"})

    description = openapi(max_upload)

    async def openapi_document(request: Request):
        return JSONResponse(description)

    api = Starlette(routes=[Route("/api/progress", upload, methods=["POST"]), Route("/api/health", health), Route("/_hub/health", hub_health_endpoint),
                            Route("/api/openapi.json", openapi_document), Route("/api/push/key", push_key),
                            Route("/api/push/subscriptions", push_subscription, methods=["POST", "DELETE"])])
    # The first process to start chooses the secret; every worker process then signs with it.
    store.set_meta("session_secret", secrets.token_urlsafe(32), replace=False)
    secret = store.meta("session_secret")
    session = Middleware(SessionMiddleware, secret_key=secret, session_cookie="satchel_hub", max_age=dashboard.SESSION_SECONDS,
                         same_site="strict", https_only=secure)
    by_id = {c["id"]: c for c in described}
    teachers = Starlette(routes=dashboard.routes(store, by_id, max_upload) + tv.routes(store, by_id), middleware=[session])  # tv: hub/tv.py
    from .cert import shows_certificate
    teachers = shows_certificate(teachers, data_dir, tls_cert)  # the dashboard shows its days left

    if len(sites) == 1:
        files = direct(opened[0][1])
    else:
        async def index(request: Request):
            items = "".join(f'<li><a href="{html.escape(c)}/">{html.escape(c)}</a></li>' for c in sorted(curricula))
            return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>Satchel hub</title><h1>Satchel hub</h1><ul>{items}</ul>")
        files = Starlette(routes=[Route("/", index), *(Mount(f"/{c}", served) for c, served in curricula.items())])

    async def app(scope, receive, send):
        """The API, the dashboard (with sessions), or the bundles' files (nothing in between)."""
        path = scope.get("path", "")
        to_api = scope["type"] == "lifespan" or path.startswith("/api/") or path == "/_hub/health"
        target = api if to_api else teachers if path.startswith("/_hub/") else files
        await target(scope, receive, send)

    return app
