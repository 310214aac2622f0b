"""The teacher's password (scrypt, in the hub's database) and the limits on guessing it."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import defaultdict, deque

SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(computed.hex(), digest)


class RateLimit:
    """At most `count` events per address in `seconds` (a sliding window): requests to the push
    subscriptions. Quiet addresses are forgotten."""

    def __init__(self, count: int, seconds: float):
        self.count, self.seconds = count, seconds
        self.recent: dict[str, deque] = defaultdict(deque)

    def _trim(self, address: str) -> deque:
        if len(self.recent) > 10000:  # many addresses: drop those with nothing recent
            now = time.monotonic()
            self.recent = defaultdict(deque, {a: t for a, t in self.recent.items() if t and now - t[-1] <= self.seconds})
        times = self.recent[address]
        while times and time.monotonic() - times[0] > self.seconds:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        return len(self._trim(address)) >= self.count

    def record(self, address: str) -> None:
        self._trim(address).append(time.monotonic())

    def allow(self, address: str) -> bool:
        """Record one more event, unless the address has had its `count` already."""
        if self.blocked(address):
            return False
        self.record(address)
        return True


class SignInLimits:
    """Wrong passwords at the dashboard's sign-in, limited per address and for the one account (the
    teacher), so that guessing is slow, yet no one can keep the teacher out for long:

    - an address with 5 failures in 5 minutes waits 1 minute; each further block of that address
      doubles its wait, to at most 5 minutes; an address with no failure for 15 minutes starts again;
    - 20 failures in 5 minutes, from all addresses together, make every address wait until fewer
      than 20 remain in the last 5 minutes (at most 5 minutes).

    A block ends by itself: attempts refused while it lasts are not counted, so they cannot make it
    longer. An attempt counts as a failure from when it starts (so parallel guesses count too); the
    right password takes it back and forgets the address's failures. `block` (60 s) scales every
    time above: they are 1, 5 and 15 times it. Counted in each process, in memory."""

    ADDRESS_FAILURES = 5
    ACCOUNT_FAILURES = 20

    def __init__(self, block: float = 60, clock=time.monotonic):
        self.block, self.longest, self.window, self.forget = block, 5 * block, 5 * block, 15 * block
        self.clock = clock
        self.addresses: dict[str, dict] = {}  # address -> {failures: deque, blocks: int, until: float, last: float}
        self.account: deque[float] = deque()  # times of recent failures, from every address

    def wait(self, address: str) -> float:
        """Seconds before `address` may try a password (0: now)."""
        now = self.clock()
        while self.account and now - self.account[0] > self.window:
            self.account.popleft()
        waits = [0.0]
        if len(self.account) >= self.ACCOUNT_FAILURES:
            waits.append(self.account[-self.ACCOUNT_FAILURES] + self.window - now)
        state = self.addresses.get(address)
        if state:
            waits.append(state["until"] - now)
        return max(waits)

    def start(self, address: str) -> float:
        """0, with the attempt counted as a failure until `succeeded`; or the seconds to wait, with
        nothing counted."""
        wait = self.wait(address)
        if wait > 0:
            return wait
        now = self.clock()
        self.account.append(now)
        state = self._state(address, now)
        failures = state["failures"]
        while failures and now - failures[0] > self.window:
            failures.popleft()
        failures.append(now)
        state["last"] = now
        if len(failures) >= self.ADDRESS_FAILURES:
            state["until"] = now + min(self.block * 2 ** state["blocks"], self.longest)
            state["blocks"] += 1
            failures.clear()
        return 0

    def succeeded(self, address: str) -> None:
        """The attempt `start` counted had the right password."""
        self.addresses.pop(address, None)
        if self.account:
            self.account.pop()

    def _state(self, address: str, now: float) -> dict:
        if len(self.addresses) > 1000:  # forget quiet addresses (at most 20 attempts pass per 5 minutes)
            self.addresses = {a: s for a, s in self.addresses.items() if now - s["last"] <= self.forget or s["until"] > now}
        state = self.addresses.get(address)
        if state is None or (now - state["last"] > self.forget and state["until"] <= now):
            state = self.addresses[address] = {"failures": deque(), "blocks": 0, "until": 0.0, "last": now}
        return state
