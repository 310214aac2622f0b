"""Web Push: tell learners when new lessons arrive (docs/hub.md, "Notifications").

- VAPID keys live in the data directory: `push-vapid.pem` (the private key, readable by the
  hub's user only, never served) and `push.json` (the public key and the contact that push
  services see in the `sub` claim). `satchel hub push-keys` makes them.
- Devices subscribe with `POST /api/push/subscriptions` after the learner taps "Tell me"; the hub
  keeps the endpoint, keys, curriculum and language.
- `satchel hub notify` (and `satchel hub import` of a new version) sends each subscription a
  message in its language with pywebpush: TTL of four weeks (phones offline for days still get
  it), a few at a time, 404/410 answers remove the subscription, 429/5xx/network failures are
  retried with backoff, and what still failed is reported."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_FILE = "push-vapid.pem"
SETTINGS_FILE = "push.json"
TTL = 28 * 24 * 3600  # four weeks: the most push services keep a message
CONCURRENCY = 16
ATTEMPTS = 4
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_SUBSCRIPTION_BYTES = 4096
STRINGS = Path(__file__).parent / "strings"

class BadSubscription(ValueError):
    """A subscription the hub refuses; the message says why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def create_keys(data: Path, contact: str) -> str:
    """Make the hub's VAPID key pair (once; later calls keep it) and return the public key."""
    if not contact.startswith(("mailto:", "https://")):
        raise ValueError("the contact must be mailto:someone@example.org or an https:// address: push services "
                         "use it to reach whoever runs this hub")
    key_file = data / KEY_FILE
    if not key_file.exists():
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public = b64url(private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    (data / SETTINGS_FILE).write_text(json.dumps({"public_key": public, "contact": contact}, indent=1) + "\n", encoding="utf-8")
    return public


def settings(data: Path) -> dict | None:
    """{"public_key", "contact"} of a hub with push keys, else None."""
    path = data / SETTINGS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() and (data / KEY_FILE).is_file() else None


def check_subscription(body: dict, curricula: dict[str, dict]) -> tuple[str, str, str, str, str]:
    """(endpoint, curriculum, language, p256dh, auth) of a subscription request, or BadSubscription."""
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
    url = urlsplit(endpoint)
    if not (url.scheme == "https" or (url.scheme == "http" and url.hostname in LOCAL_HOSTS)) or not url.hostname:
        raise BadSubscription("subscription.endpoint must be an https:// URL (http:// only on this machine)")
    try:
        p256dh, auth = unb64url(keys.get("p256dh")), unb64url(keys.get("auth"))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except (TypeError, ValueError, binascii.Error, AttributeError):
        raise BadSubscription("subscription.keys.p256dh must be a P-256 public key, base64url (65 bytes, uncompressed)") from None
    if len(p256dh) != 65 or len(auth) != 16:
        raise BadSubscription("subscription.keys: p256dh must be 65 bytes and auth 16 bytes, base64url")
    return endpoint, curriculum, language, b64url(p256dh), b64url(auth)


@functools.cache
def words(language: str) -> dict[str, str]:
    """The hub's strings in a language (hub/strings/<code>.yml), English where one is missing."""
    english = yaml.safe_load((STRINGS / "en.yml").read_text(encoding="utf-8"))
    path = STRINGS / f"{language}.yml"
    return {**english, **(yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {})}


def message(curriculum: dict | None, language: str, version: str | None) -> dict:
    """What a learner's phone shows, in their language: {title, body, url, tag, version}."""
    say = words(language)
    title = (curriculum or {}).get("title", {}).get(language) or (curriculum or {}).get("id", "")
    url = next((lang["url"] for lang in (curriculum or {}).get("languages", []) if lang["code"] == language), "./")
    return {"title": say["push_title"].format(title=title), "body": say["push_body"].format(title=title, version=version or ""),
            "url": url, "tag": "satchel-new-lessons", "version": version}


@dataclass
class Report:
    sent: int = 0
    removed: int = 0
    retried: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, why)


def notify(store, data: Path, curricula: dict[str, dict], only: str | None = None, concurrency: int = CONCURRENCY,
           attempts: int = ATTEMPTS, backoff: float = 1.0) -> Report:
    """Send every subscription (of `only`, a curriculum id, if given) the 'new lessons' message."""
    from py_vapid import Vapid
    from pywebpush import WebPushException, webpush
    from requests import RequestException

    config = settings(data)
    if config is None:
        raise FileNotFoundError(f"this hub has no push keys: run `satchel hub push-keys --data {data} --contact mailto:...` first")
    private_key = Vapid.from_file(str(data / KEY_FILE))
    claims = {"sub": config["contact"]}
    rows = store.query("SELECT endpoint, curriculum, language, p256dh, auth FROM push_subscriptions"
                       + (" WHERE curriculum = ?" if only else "") + " ORDER BY created", *([only] if only else []))
    report, lock = Report(), threading.Lock()

    def send(row) -> None:
        endpoint, curriculum, language, p256dh, auth = row
        described = curricula.get(curriculum)
        payload = json.dumps(message(described, language, described and described.get("version")), ensure_ascii=False)
        why = ""
        for attempt in range(attempts):
            try:
                # A fresh copy of the claims each time: pywebpush writes `aud` and `exp` into it.
                webpush({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, payload,
                        vapid_private_key=private_key, vapid_claims=dict(claims), ttl=TTL, timeout=30,
                        headers={"Urgency": "normal", "Topic": "new-lessons"})
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
                    break  # refused for good (a bad request, a wrong key): retrying would not help
                wait = backoff * 2 ** attempt
                if status == 429 and (error.response.headers.get("retry-after") or "").isdigit():
                    wait = max(wait, min(60, int(error.response.headers["retry-after"])))
            except RequestException as error:
                why, wait = f"network: {type(error).__name__}", backoff * 2 ** attempt
            if attempt + 1 < attempts:
                with lock:
                    report.retried += 1
                time.sleep(wait)
        with lock:
            report.failed.append((endpoint, why))

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="satchel-push") as pool:
        list(pool.map(send, rows))
    return report
