"""Taking in one progress file, the same way from the API (POST /api/progress) and from the USB
page (/_hub/upload): parse, check and verify it whole (off the event loop when it is large), store
it, and say what became of it as (HTTP status, JSON answer)."""

from __future__ import annotations

import anyio

from .progress import BadProgress, StoreFailed, prepare
from .store import Store

OFF_LOOP_BYTES = 256 * 1024  # larger files are parsed in a thread: a 9 MB file took the loop 0.9 s


async def take(store: Store, body: bytes, curricula: set[str], school: str | None = None, enrolment: str | None = None,
               teacher: bool = False) -> tuple[int, dict]:
    try:
        if len(body) > OFF_LOOP_BYTES:
            checked = await anyio.to_thread.run_sync(prepare, body, curricula, school is not None)
        else:
            checked = prepare(body, curricula, school is not None)
        stored = await store.add_file(checked, source=school, enrolment=enrolment, teacher=teacher)
    except BadProgress as refusal:
        return refusal.status, {"error": str(refusal)}
    except StoreFailed as failure:
        if failure.disk_full:
            return 507, {"error": "the hub's disk is full: nothing of this file was stored, and it stays on the device; "
                                  "tell whoever runs the hub"}
        return 503, {"error": f"the hub could not store this file ({str(failure.error)[:200]}); nothing of it was stored: "
                              "try again later"}
    answer = {"new": stored.new, "known": stored.known}
    if stored.conflicts:
        answer.update(error=f"{len(stored.conflicts)} statements have ids this hub holds with other content or for another "
                            "learner: they are kept aside for the teacher; the rest is stored", conflicts=stored.conflicts)
        return 409, answer
    return 200, answer
