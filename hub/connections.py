"""The hub's connections, bounded: deadlines for a request's headers and body, a response its
client stops reading dropped, and a cap on open connections below the process's file limit."""

from __future__ import annotations

import asyncio
import functools
import http
import resource
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

HEADER_TIMEOUT = 10.0  # seconds for a request's headers, from the connection or the previous answer
BODY_TIMEOUT = 20.0  # seconds for a body to start coming (and for a stalled answer to move again)
BODY_MIN_RATE = 8 * 1024  # bytes a second: each 8 KB received earns the body one more second
KEEP_ALIVE = 5  # seconds a connection may sit idle between requests (uvicorn closes it)
MAX_HEADER_BYTES = 64 * 1024  # a request's line and headers; a browser's are a few KB
FILE_LIMIT_CEILING = 16384  # the soft file limit is raised to the hard one, up to this
CONNECTIONS_CEILING = 10000  # idle connections cost memory too: some 7 KB each in the hub, and the kernel's


@dataclass(frozen=True)
class Limits:
    max_connections: int
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    body_min_rate: float = BODY_MIN_RATE
    max_header_bytes: int = MAX_HEADER_BYTES


def raise_file_limit(ceiling: int = FILE_LIMIT_CEILING) -> int:
    """Raise this process's soft limit of open files towards its hard limit; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # a container may refuse: keep the limit there is
            pass
    return soft


def default_max_connections(file_limit: int) -> int:
    """Connections a process may hold, leaving files for the database, the bundles and the answers' files."""
    return max(file_limit // 2, min(file_limit * 4 // 5, file_limit - 100, CONNECTIONS_CEILING))


def uvicorn_options(limits: Limits) -> dict:
    """uvicorn.run's options for bounded connections (they pickle, for --workers). uvicorn's backlog
    (2,048) stays: with 1,100 connections queued at once, the hub's highest descriptor was the cap
    and 21 (the cap closes each idle one before the next is accepted), while a backlog of 100 left
    connections waiting seconds for the kernel to retry them."""
    return dict(http=functools.partial(BoundedHttpProtocol, limits=limits), ws="none", timeout_keep_alive=KEEP_ALIVE)


class Waiting:
    """The connections of one server that wait for a request, the longest-waiting first: those the
    cap closes for a new one."""

    def __init__(self) -> None:
        self.connections: OrderedDict[BoundedHttpProtocol, None] = OrderedDict()
        self.warned_at = float("-inf")

    def make_room(self, protocol: BoundedHttpProtocol) -> bool:
        if not self.connections:
            return False
        oldest, _ = self.connections.popitem(last=False)
        oldest.cancel_deadline()
        oldest.transport.close()
        now = protocol.loop.time()
        if now - self.warned_at > 60:  # once a minute at most: a flood of connections is no flood of logs
            protocol.logger.warning("%d connections open, the most allowed (--max-connections): each new one closes "
                                    "the one idle longest", protocol.limits.max_connections)
            self.warned_at = now
        return True


_waiting: WeakKeyDictionary[ServerState, Waiting] = WeakKeyDictionary()


def plain_answer(status: int) -> bytes:
    phrase = http.HTTPStatus(status).phrase
    return (f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(phrase)}\r\nconnection: close\r\n\r\n{phrase}").encode()


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a header size limit and the connection cap.

    A connection waits for a request from when it opens and after each answer: its headers must be
    complete within `header_timeout` (uvicorn's keep-alive closes an idle one sooner). A body must
    arrive within `body_timeout` plus one second per `body_min_rate` bytes received. An answer whose
    client reads nothing for `body_timeout` is dropped."""

    def __init__(self, *args, limits: Limits, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        waiting = _waiting.get(self.server_state)
        if waiting is None:
            waiting = _waiting[self.server_state] = Waiting()
        self.waiting = waiting
        self.deadline: asyncio.TimerHandle | None = None
        self.stall: asyncio.TimerHandle | None = None
        self.header_bytes = 0
        self.receiving_body = False
        self.body_started = 0.0
        self.body_received = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self.waiting.make_room(self):
            transport.close()  # every other connection has a request under way: this one cannot be served now
            return
        self.wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.connections.pop(self, None)
        self.cancel_deadline()
        if self.stall is not None:
            self.stall.cancel()
            self.stall = None
        super().connection_lost(exc)

    # The request's headers

    def wait_for_request(self) -> None:
        self.header_bytes = 0
        self.set_deadline(self.limits.header_timeout, self.headers_late)
        self.waiting.connections[self] = None

    def data_received(self, data: bytes) -> None:
        waiting = self in self.waiting.connections
        super().data_received(data)
        if not waiting or self not in self.waiting.connections or self.transport.is_closing():
            return  # the headers were complete (the rest of this data is a body): no limit on it here
        self.header_bytes += len(data)
        if self.header_bytes > self.limits.max_header_bytes:
            self.end(431)

    def headers_late(self) -> None:
        self.deadline = None
        # A connection opened ahead of need (browsers do) closes quietly; a request begun and not finished gets a 408.
        self.end(408 if self.header_bytes else None)

    def on_headers_complete(self) -> None:
        self.waiting.connections.pop(self, None)
        self.receiving_body = True
        self.body_started, self.body_received = self.loop.time(), 0
        self.set_deadline(self.limits.body_timeout, self.body_late)
        super().on_headers_complete()

    # The request's body

    def on_body(self, body: bytes) -> None:
        self.body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self.receiving_body = False
        self.cancel_deadline()
        super().on_message_complete()
        if self.cycle.response_complete and not self.transport.is_closing():
            self.wait_for_request()  # answered before the body was all read (a 413): the next request may come

    def body_late(self) -> None:
        self.deadline = None
        now = self.loop.time()
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:  # the app, not the client, is behind: more time
            self.body_started = now - self.body_received / self.limits.body_min_rate
        due = self.body_started + self.limits.body_timeout + self.body_received / self.limits.body_min_rate
        if now < due:
            self.set_deadline(due - now, self.body_late)
            return
        self.end(408)

    # The answer

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.receiving_body and self.cycle.response_complete:
            self.wait_for_request()  # (not when a pipelined request is next: it is already under way)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.stall is None:
            self.stall = self.loop.call_later(self.limits.body_timeout, self.answer_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.stall is not None:
            self.stall.cancel()
            self.stall = None

    def answer_stalled(self) -> None:
        self.stall = None
        self.transport.abort()  # close() would wait for the client to read what is buffered

    # Deadlines

    def set_deadline(self, delay: float, callback: Callable[[], None]) -> None:
        self.cancel_deadline()
        self.deadline = self.loop.call_later(delay, callback)

    def cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def end(self, status: int | None) -> None:
        """Close the connection, first answering `status` if the request has no answer yet."""
        self.cancel_deadline()
        self.waiting.connections.pop(self, None)
        cycle = self.cycle
        if self.receiving_body:  # the request is the app's already
            if cycle.response_started or self.pipeline:  # answered (a 413, a 415), or another answer goes first
                status = None
            if not cycle.response_complete:
                cycle.disconnected = True  # the app's sends are dropped; its receive() gets http.disconnect
                cycle.message_event.set()
        if status is not None and not self.transport.is_closing():
            self.transport.write(plain_answer(status))
        self.transport.close()
