"""Web Push: tell learners when new lessons arrive (docs/hub.md, "Notifications").

- VAPID keys live in the hub's database (its `meta` table), so every hub on one database (several
  machines behind a load balancer) answers the same `/api/push/key`: `push_vapid_private_key`
  (PEM, never served nor printed) and `push_settings` (the public key and the contact that push
  services see in the `sub` claim). `satchel hub push-keys` makes them; the files an older hub
  kept in the data directory (`push-vapid.pem`, `push.json`) are moved in at start (use_store).
- Devices subscribe with `POST /api/push/subscriptions` after the learner taps "Tell me"; the hub
  keeps the endpoint, keys, curriculum and language.
- `satchel hub notify` (and `satchel hub import` of a new version) sends each subscription a
  message in its language with pywebpush: TTL of four weeks (phones offline for days still get
  it), a few at a time, 404/410 answers remove the subscription, 429/5xx/network failures are
  retried with backoff, and what still failed is reported.

A subscriber names the URL the hub posts to, so the hub posts only to what looks like a push
service: `https://`, port 443, a DNS name that resolves to public addresses only (not this
machine's, not the school's network), checked when the device subscribes and again, address by
address, right before each send; the connection goes to the address that was checked. Each
attempt has a deadline, and so has the whole run. The test suite's push service, on loopback, is
let through only by `satchel hub push-keys --allow-test-endpoint URL`, which no hub should have."""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import ipaddress
import json
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from .identity import unb64url

KEY_FILE = "push-vapid.pem"  # where a hub before the database kept them: moved in at start (migrate_key_files)
SETTINGS_FILE = "push.json"
TTL = 28 * 24 * 3600  # four weeks: the most push services keep a message
CONCURRENCY = 16
ATTEMPTS = 4
ATTEMPT_SECONDS = 10.0  # connect, TLS, request and answer: an endpoint that never answers costs this, per attempt
CONNECT_SECONDS = 5.0
RUN_SECONDS, RUN_SECONDS_PER_SUBSCRIPTION = 60.0, 0.5  # the whole run's default deadline: 60 s + 0.5 s a subscription
MAX_REPLY_BYTES = 64 * 1024  # a push service answers in a few bytes; no more than this is read
MAX_SUBSCRIPTIONS = 100_000  # per curriculum, unless push.json says otherwise (push-keys --max-subscriptions)
MAX_SUBSCRIPTION_BYTES = 4096
PRIVATE_KEY_META, SETTINGS_META = "push_vapid_private_key", "push_settings"  # keys of the database's meta table
SETTINGS_SECONDS = 5.0  # how long a hub keeps the settings it read (a change by push-keys reaches it within this)
NOTIFY_LOG = "push-notify.log"  # in the data directory: the report of the notification `hub import` starts
STRINGS = Path(__file__).parent / "strings"
DNS_NAME = re.compile(r"(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?")
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: is_private is False for it, is_global too
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))  # IPv4 in the last 32 bits


_stores: dict[str, object] = {}  # data directory -> the Store its keys are read from
_cached: dict[str, tuple[float, dict | None]] = {}  # data directory -> (when read, settings)


class BadSubscription(ValueError):
    """A subscription the hub refuses; the message says why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def use_store(data: Path, store) -> str | None:
    """Read the push keys of the hub in `data` from `store` (its database) from now on, and move in
    the key files an older hub kept there. Returns a warning to show, if any."""
    _stores[_key(data)] = store
    _cached.pop(_key(data), None)
    return migrate_key_files(data, store)


def migrate_key_files(data: Path, store) -> str | None:
    """Copy `DATA/push-vapid.pem` and `DATA/push.json` of an older hub into the database (once:
    keys already there win), so its devices' subscriptions keep working. The files stay, unread."""
    key_file = data / KEY_FILE
    if not key_file.is_file():
        return None
    pem = key_file.read_text(encoding="utf-8")
    store.set_meta(PRIVATE_KEY_META, pem, replace=False)
    if store.meta(PRIVATE_KEY_META) != pem:
        return (f"{key_file} is not the push key in the database (another hub on this database made one first): the "
                "database's is used, and devices subscribed with this file's key must subscribe again")
    if store.meta(SETTINGS_META) is None and (data / SETTINGS_FILE).is_file():
        config = json.loads((data / SETTINGS_FILE).read_text(encoding="utf-8"))
        config["public_key"] = public_key(pem)
        store.set_meta(SETTINGS_META, json.dumps(config), replace=False)
    return None


def _key(data: Path) -> str:
    return str(Path(data).resolve())


def _store(data: Path):
    """The store given to use_store for `data`, or one opened here (and kept) for it."""
    found = _stores.get(_key(data))
    if found is None:
        from .store import Store
        found = Store.in_data_dir(Path(data))
        use_store(data, found)
    return found


def public_key(pem: str) -> str:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    return b64url(private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def create_keys(data: Path, contact: str, test_endpoints: list[str] | None = None, max_subscriptions: int | None = None) -> str:
    """Make the hub's VAPID key pair (once per database; later calls, from any hub on it, keep it)
    and return the public key. `test_endpoints`, for the test suite only, are push services the hub
    may post to although they are on loopback (each call sets them anew: none unless given);
    `max_subscriptions` caps the subscriptions of each curriculum (kept from an earlier call unless given)."""
    if not contact.startswith(("mailto:", "https://")):
        raise ValueError("the contact must be mailto:someone@example.org or an https:// address: push services "
                         "use it to reach whoever runs this hub")
    for allowed in test_endpoints or []:
        url = urlsplit(allowed)
        if url.scheme != "https" or not url.hostname or url.username is not None:
            raise ValueError(f"--allow-test-endpoint {allowed[:80]}: give an https://HOST:PORT/ URL")
    if max_subscriptions is not None and max_subscriptions < 1:
        raise ValueError("--max-subscriptions must be at least 1")
    store = _store(data)
    if store.meta(PRIVATE_KEY_META) is None:
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        store.set_meta(PRIVATE_KEY_META, pem.decode(), replace=False)  # two hubs at once: the first one's stays
    public = public_key(store.meta(PRIVATE_KEY_META))
    earlier = json.loads(store.meta(SETTINGS_META) or "{}")
    config = {"public_key": public, "contact": contact,
              "max_subscriptions_per_curriculum": max_subscriptions or earlier.get("max_subscriptions_per_curriculum", MAX_SUBSCRIPTIONS)}
    if test_endpoints:
        config["allow_test_endpoints"] = list(test_endpoints)
    store.set_meta(SETTINGS_META, json.dumps(config), replace=True)
    _cached.pop(_key(data), None)
    return public


def settings(data: Path) -> dict | None:
    """{"public_key", "contact", ...} of a hub with push keys (from its database), else None. Read
    again at most every SETTINGS_SECONDS: a request for /api/push/key costs no database query."""
    now = time.monotonic()
    found = _cached.get(_key(data))
    if found is not None and now - found[0] < SETTINGS_SECONDS:
        return found[1]
    store = _store(data)
    raw = store.meta(SETTINGS_META)
    config = json.loads(raw) if raw is not None and store.meta(PRIVATE_KEY_META) is not None else None
    _cached[_key(data)] = (now, config)
    return config


def private_key(data: Path) -> str:
    """The VAPID private key (PEM), for signing; never to be served or printed."""
    return _store(data).meta(PRIVATE_KEY_META)


def max_subscriptions(config: dict) -> int:
    """How many devices of one curriculum the hub keeps, at most."""
    return int(config.get("max_subscriptions_per_curriculum", MAX_SUBSCRIPTIONS))


def test_endpoints(config: dict | None) -> list[str]:
    """The push services on loopback that the test suite allowed (push-keys --allow-test-endpoint)."""
    return list((config or {}).get("allow_test_endpoints", []))


@dataclass(frozen=True)
class Target:
    """Where a push goes: the name (for TLS and the Host header), the port, the checked addresses."""
    name: str
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.name}]" if ":" in self.name else self.name
        return host if self.port == 443 else f"{host}:{self.port}"


@functools.cache
def own_addresses() -> frozenset:
    """This machine's addresses, public ones too (Linux: from /proc; elsewhere none are known, and
    the other rules still hold): a subscriber must not make the hub post to itself."""
    found = set()
    with contextlib.suppress(OSError, ValueError):  # IPv4: the kernel's LOCAL routes ("|-- ADDRESS", then "/32 host LOCAL")
        leaf = None
        for line in Path("/proc/net/fib_trie").read_text().splitlines():
            if line.strip().startswith("|--"):
                leaf = line.split()[-1]
            elif line.strip() == "/32 host LOCAL" and leaf:
                found.add(ipaddress.IPv4Address(leaf))
    with contextlib.suppress(OSError):  # IPv6: 32 hex digits, then the interface
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            found.add(ipaddress.IPv6Address(int(line.split()[0], 16)))
    return frozenset(found)


def forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the hub must not post to this address (in words), or None for a public one."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if any(address in network for network in NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.teredo:
            return "a Teredo tunnel address"
        if embedded is not None and (why := forbidden(embedded)):
            return f"{why}, inside an IPv6 address"
        address = ipaddress.IPv6Address(int(address))  # without a %zone, for the comparisons below
    for flag, meaning in (("is_loopback", "this machine (loopback)"), ("is_unspecified", "the unspecified address"),
                        ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
                        ("is_private", "a private network's address"), ("is_reserved", "a reserved address")):
        if getattr(address, flag):
            return meaning
    if address in SHARED:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if address in own_addresses():
        return "an address of this hub"
    if not address.is_global:
        return "not a public address"
    return None


def resolve(name: str, port: int) -> tuple[str, ...]:
    """The addresses a name has now, in the order to try them; OSError if it has none."""
    found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(sockaddr[0] for _, _, _, _, sockaddr in found))


def allowed_for_tests(endpoint: str, allowed: list[str]) -> bool:
    url = urlsplit(endpoint)
    for entry in allowed:
        test = urlsplit(entry)
        if (url.scheme, url.hostname, url.port) == (test.scheme, test.hostname, test.port) and url.username is None \
                and url.path.startswith(test.path or "/"):
            return True
    return False


def endpoint_target(endpoint: str, allowed: list[str] = ()) -> Target:
    """Where a push to `endpoint` may go: BadSubscription if the hub must not post there, OSError if
    its name does not resolve now. `allowed`: the test suite's push services (test_endpoints)."""
    url = urlsplit(endpoint)
    try:
        port = url.port
    except ValueError:
        raise BadSubscription("subscription.endpoint has a port that is not a number") from None
    name = url.hostname or ""
    if allowed and allowed_for_tests(endpoint, allowed):  # the operator said so, for tests: any address
        return Target(name, port or 443, resolve(name, port or 443))
    if url.scheme != "https" or not name:
        raise BadSubscription("subscription.endpoint must be an https:// URL")
    if url.username is not None or url.password is not None:
        raise BadSubscription("subscription.endpoint must not carry a user name or password")
    if port not in (None, 443):
        raise BadSubscription(f"subscription.endpoint must use port 443, as push services do, not {port}")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise BadSubscription(f"subscription.endpoint must name its push service (a DNS name), not an IP address ({name})")
    if not DNS_NAME.fullmatch(name):
        raise BadSubscription(f"subscription.endpoint's host {name[:100]!r} is not a DNS name")
    addresses = resolve(name, 443)
    for address in addresses:
        if why := forbidden(ipaddress.ip_address(address)):
            raise BadSubscription(f"subscription.endpoint's host {name} resolves to {address}, {why}: "
                                  "this hub sends notifications only to push services on the internet")
    return Target(name, 443, addresses)


def check_subscription(body: dict, curricula: dict[str, dict], allowed: list[str] = ()) -> tuple[str, str, str, str, str]:
    """(endpoint, curriculum, language, p256dh, auth) of a subscription request, or BadSubscription.
    Resolves the endpoint's name (the last check, so a malformed request costs no DNS lookup)."""
    if not isinstance(body, dict):
        raise BadSubscription("send an object: {curriculum, language, subscription}")
    curriculum, language, subscription = body.get("curriculum"), body.get("language"), body.get("subscription")
    if curriculum not in curricula:
        raise BadSubscription(f"this hub does not serve the curriculum {str(curriculum)[:100]!r}")
    if language not in {lang["code"] for lang in curricula[curriculum]["languages"]}:
        raise BadSubscription(f"the curriculum {curriculum} has no language {str(language)[:20]!r}")
    if not isinstance(subscription, dict) or not isinstance(subscription.get("keys"), dict):
        raise BadSubscription("subscription must be a PushSubscription's JSON: {endpoint, keys: {p256dh, auth}}")
    endpoint, keys = subscription.get("endpoint"), subscription["keys"]
    if not isinstance(endpoint, str) or len(endpoint) > 2048:
        raise BadSubscription("subscription.endpoint must be a URL of at most 2048 characters")
    try:
        p256dh, auth = unb64url(keys.get("p256dh")), unb64url(keys.get("auth"))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except (TypeError, ValueError, binascii.Error, AttributeError):
        raise BadSubscription("subscription.keys.p256dh must be a P-256 public key, base64url (65 bytes, uncompressed)") from None
    if len(p256dh) != 65 or len(auth) != 16:
        raise BadSubscription("subscription.keys: p256dh must be 65 bytes and auth 16 bytes, base64url")
    try:
        endpoint_target(endpoint, allowed)
    except (OSError, UnicodeError):
        # A name that does not resolve now is kept: a school hub is often offline when devices
        # subscribe. Nothing is sent to it unless it resolves to public addresses at send time.
        pass
    return endpoint, curriculum, language, b64url(p256dh), b64url(auth)


@functools.cache
def words(language: str) -> dict[str, str]:
    """The hub's strings in a language (hub/strings/<code>.yml), English where one is missing."""
    from .dashboard import known_language  # the same choice of language as the dashboard's (sr-Latn-RS -> sr-Latn)
    english = yaml.safe_load((STRINGS / "en.yml").read_text(encoding="utf-8"))
    found = known_language(language)
    path = STRINGS / f"{found}.yml"
    return {**english, **(yaml.safe_load(path.read_text(encoding="utf-8")) if found else {})}


def message(curriculum: dict | None, language: str, version: str | None) -> dict:
    """What a learner's phone shows, in their language: {title, body, url, tag, version}."""
    say = words(language)
    title = (curriculum or {}).get("title", {}).get(language) or (curriculum or {}).get("id", "")
    url = next((lang["url"] for lang in (curriculum or {}).get("languages", []) if lang["code"] == language), "./")
    return {"title": say["push_title"].format(title=title), "body": say["push_body"].format(title=title, version=version or ""),
            "url": url, "tag": "satchel-new-lessons", "version": version}


class Cutoff:
    """Shuts the sockets of one attempt at its deadline, whatever they wait for: a socket timeout
    bounds each wait, not their sum, so a TLS handshake or an answer trickled a byte at a time
    would go on for ever. (The TCP connect, before a socket is set, has its own timeout.)"""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.connections: list = []
        self.fired = False
        self.done = threading.Event()
        threading.Thread(target=self._watch, name="satchel-push-cutoff", daemon=True).start()

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def stop(self) -> None:
        self.done.set()

    def _watch(self) -> None:
        if self.done.wait(self.left()):
            return
        self.fired = True
        while True:  # again until the attempt gives up: a connect may finish, and set a socket, after the deadline
            for connection in list(self.connections):
                if connection.sock is not None:
                    # socket.socket's shutdown, not SSLSocket's (that one drops its TLS state under the reading thread)
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)
            if self.done.wait(0.05):
                return


class WatchedConnection(urllib3.connection.HTTPSConnection):
    """An HTTPS connection that its attempt's Cutoff can shut."""

    def __init__(self, *args, cutoff: Cutoff, **kwargs):
        super().__init__(*args, **kwargs)
        cutoff.connections.append(self)


class PinnedPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = WatchedConnection


class PinnedAdapter(HTTPAdapter):
    """Sends a push to the addresses checked by endpoint_target, not to whatever the name resolves
    to by the time of connecting: a pool per address (urllib3's host), with the name kept for TLS
    (SNI and the certificate's check, `server_hostname`) and for the Host header. So a DNS answer
    that changes between the check and the connection (DNS rebinding) changes nothing. Reads at
    most MAX_REPLY_BYTES of the answer, and the attempt ends at its deadline (Cutoff)."""

    def __init__(self, target: Target, seconds: float):
        super().__init__(max_retries=0)
        self.target, self.seconds = target, seconds
        self.address = target.addresses[0]
        self.cutoff: Cutoff | None = None
        self.pools: list[PinnedPool] = []

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool = PinnedPool(self.address, self.target.port, server_hostname=self.target.name, maxsize=1, cutoff=self.cutoff)
        self.pools.append(pool)
        return pool

    def get_connection(self, url, proxies=None):  # what requests before 2.32 calls instead
        return self.get_connection_with_tls_context(None, True, proxies)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        if (url.scheme, url.hostname, url.port or 443) != ("https", self.target.name, self.target.port):
            raise requests.exceptions.InvalidURL(f"not the endpoint that was checked: {request.url[:80]}", request=request)
        request.headers["Host"] = self.target.host_header
        self.cutoff = cutoff = Cutoff(self.seconds)
        try:
            for number, address in enumerate(self.target.addresses):
                self.address = address
                deadline = urllib3.Timeout(connect=min(CONNECT_SECONDS, cutoff.left()), read=max(cutoff.left(), 0.001))
                try:
                    response = super().send(request, stream=True, timeout=deadline, verify=verify, cert=cert, proxies={})
                    break
                except requests.ConnectionError as error:  # nothing was sent if the connect failed: try the next address
                    reason = getattr(error.args[0] if error.args else None, "reason", None)
                    if not isinstance(reason, ConnectTimeoutError) or number + 1 == len(self.target.addresses) or cutoff.fired:
                        raise
            try:
                body = response.raw.read(MAX_REPLY_BYTES)
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise requests.ConnectionError(error, request=request) from None
            finally:
                response.raw.close()
            if cutoff.fired:  # cut off mid-answer, which may then parse as a whole one (headers end at the EOF)
                raise requests.ConnectionError("cut off at the attempt's deadline", request=request)
            response._content, response._content_consumed = body, True  # requests' own way to hold a read body
            return response
        finally:
            cutoff.stop()

    def close(self) -> None:
        super().close()
        for pool in self.pools:
            pool.close()


class PinnedSession(requests.Session):
    """A session that posts only to one checked Target, follows no redirect (a 3xx is an answer,
    refused), and ignores proxy settings (a proxy would connect to wherever the name points)."""

    def __init__(self, target: Target, seconds: float):
        super().__init__()
        self.trust_env = False
        # The one setting trust_env would have read that still applies: a CA bundle of the operator's (or the test suite's).
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
        self.adapter = PinnedAdapter(target, seconds)
        for prefix in ("https://", "http://"):
            self.mount(prefix, self.adapter)

    def send(self, request, **kwargs):
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)

    def cut_off(self) -> bool:
        """Whether the last attempt was ended by its deadline."""
        return self.adapter.cutoff is not None and self.adapter.cutoff.fired


@dataclass
class Report:
    sent: int = 0
    removed: int = 0
    retried: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, why)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, why): not sent, the hub must not post there


def notify(store, data: Path, curricula: dict[str, dict], only: str | None = None, concurrency: int = CONCURRENCY,
           attempts: int = ATTEMPTS, backoff: float = 1.0, attempt_seconds: float = ATTEMPT_SECONDS,
           deadline: float | None = None) -> Report:
    """Send every subscription (of `only`, a curriculum id, if given) the 'new lessons' message.
    Each attempt ends after `attempt_seconds`; the run after `deadline` seconds (by default 60 s
    plus half a second a subscription), what was not sent by then is reported as failed."""
    from py_vapid import Vapid
    from pywebpush import WebPushException, webpush

    config = settings(data)
    if config is None:
        raise FileNotFoundError(f"this hub has no push keys: run `satchel hub push-keys --data {data} --contact mailto:...` first")
    signing_key = Vapid.from_pem(private_key(data).encode())
    claims = {"sub": config["contact"]}
    allowed = test_endpoints(config)
    rows = store.query("SELECT endpoint, curriculum, language, p256dh, auth FROM push_subscriptions"
                       + (" WHERE curriculum = ?" if only else "") + " ORDER BY created", *([only] if only else []))
    if deadline is None:
        deadline = RUN_SECONDS + RUN_SECONDS_PER_SUBSCRIPTION * len(rows)
    run_end = time.monotonic() + deadline
    report, lock = Report(), threading.Lock()

    def send(row) -> None:
        endpoint, curriculum, language, p256dh, auth = row
        described = curricula.get(curriculum)
        payload = json.dumps(message(described, language, described and described.get("version")), ensure_ascii=False)
        why = f"not tried within the run's deadline of {deadline:g} s"
        for attempt in range(attempts):
            left = run_end - time.monotonic()
            if left <= 0:
                break
            try:  # checked again at each attempt: the name may point elsewhere since the device subscribed
                target = endpoint_target(endpoint, allowed)
            except BadSubscription as error:
                with lock:
                    report.refused.append((endpoint, str(error)))
                return
            except (OSError, UnicodeError) as error:
                target, why, wait = None, f"network: cannot resolve the name ({error})"[:200], backoff * 2 ** attempt
            if target is not None:
                seconds = min(attempt_seconds, left)
                session = PinnedSession(target, seconds)
                try:
                    # A fresh copy of the claims each time: pywebpush writes `aud` and `exp` into it.
                    webpush({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, payload,
                            vapid_private_key=signing_key, vapid_claims=dict(claims), ttl=TTL, timeout=seconds,
                            headers={"Urgency": "normal", "Topic": "new-lessons"}, requests_session=session)
                    with lock:
                        report.sent += 1
                    return
                except WebPushException as error:
                    status = error.response.status_code if error.response is not None else None
                    if status in (404, 410):  # the learner unsubscribed, or the browser dropped it: forget it
                        store.remove_push_subscription(endpoint)
                        with lock:
                            report.removed += 1
                        return
                    why = f"HTTP {status}" if status else str(error)[:200]
                    if status is not None and status < 500 and status != 429:
                        break  # refused for good (a bad request, a wrong key, a redirect): retrying would not help
                    wait = backoff * 2 ** attempt
                    if status == 429 and (error.response.headers.get("retry-after") or "").isdigit():
                        wait = max(wait, min(60, int(error.response.headers["retry-after"])))
                except requests.RequestException as error:
                    why = f"network: {type(error).__name__}"
                    if session.cut_off():
                        why = f"no answer within {attempt_seconds:g} s" if seconds == attempt_seconds else \
                            f"no answer before the run's deadline ({deadline:g} s)"
                    wait = backoff * 2 ** attempt
                finally:
                    session.close()
            if attempt + 1 < attempts and run_end - time.monotonic() > wait:
                with lock:
                    report.retried += 1
                time.sleep(wait)
            else:
                break
        with lock:
            report.failed.append((endpoint, why))

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="satchel-push") as pool:
        list(pool.map(send, rows))
    return report
