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


class LoginLimit:
    """At most `failures` wrong passwords per address in `seconds`; then the address waits."""

    def __init__(self, failures: int = 5, seconds: float = 300):
        self.failures, self.seconds = failures, seconds
        self.recent: dict[str, deque] = defaultdict(deque)

    def _trim(self, address: str) -> deque:
        times = self.recent[address]
        while times and time.monotonic() - times[0] > self.seconds:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        return len(self._trim(address)) >= self.failures

    def failed(self, address: str) -> None:
        self._trim(address).append(time.monotonic())
