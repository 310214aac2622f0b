"""The teacher's password (scrypt, in the hub's database) and the login's rate limit."""

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
    """At most `count` events per address in `seconds` (a sliding window): wrong passwords at
    the dashboard's sign-in, requests to the push subscriptions. Quiet addresses are forgotten."""

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
