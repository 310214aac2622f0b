"""A Web Push service on loopback, standing in for a browser vendor's: it checks each request's
VAPID signature (RFC 8292) and decrypts its aes128gcm payload (RFC 8291) with the keys of the
subscription, which it holds as a browser would. Nothing is mocked on the hub's side: pywebpush
talks HTTP to this server."""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
import time

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    def __init__(self, contact: str):
        self.contact = contact
        self.lock = threading.Lock()
        self.keys: dict[str, tuple] = {}  # subscription name -> (private key, auth secret)
        self.answers: dict[str, list[int]] = {}  # name -> statuses to answer in turn, then 201
        self.delivered: list[tuple[str, dict, dict]] = []  # (name, payload, headers) answered 201
        self.attempts: list[tuple[str, int]] = []  # (name, status) of every request
        self.problems: list[str] = []  # VAPID or encryption errors
        self.in_flight = self.most_in_flight = 0
        self.delay = 0.0
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with service.lock:
                    service.in_flight += 1
                    service.most_in_flight = max(service.most_in_flight, service.in_flight)
                try:
                    time.sleep(service.delay)
                    status = service.receive(self.path.rsplit("/", 1)[-1], dict(self.headers), body)
                finally:
                    with service.lock:
                        service.in_flight -= 1
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def subscription(self, name: str) -> dict:
        """A new PushSubscription's JSON, as a browser gives a page."""
        private = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self.keys[name] = (private, auth)
        public = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.origin}/push/{name}", "expirationTime": None, "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}

    def receive(self, name: str, headers: dict, body: bytes) -> int:
        headers = {k.lower(): v for k, v in headers.items()}
        problem = self.check_vapid(headers.get("authorization", ""))
        if name not in self.keys:
            problem = problem or f"unknown subscription {name}"
        with self.lock:
            answers = self.answers.get(name)
            status = answers.pop(0) if answers else 201
            if problem:
                self.problems.append(problem)
                status = 403
            self.attempts.append((name, status))
        if status != 201:
            return status
        private, auth = self.keys[name]
        try:
            payload = json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm"))
        except Exception as error:  # a payload this subscription cannot read
            with self.lock:
                self.problems.append(f"cannot decrypt for {name}: {error}")
            return 400
        with self.lock:
            self.delivered.append((name, payload, headers))
        return 201

    def check_vapid(self, authorization: str) -> str | None:
        """None if the request carries a valid VAPID JWT for this service, else what is wrong."""
        try:
            scheme, _, params = authorization.partition(" ")
            fields = dict(part.strip().split("=", 1) for part in params.split(","))
            token, key = fields["t"], fields["k"]
            header, claims, signature = token.split(".")
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
            raw = unb64url(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(unb64url(claims))
        except (ValueError, KeyError, InvalidSignature) as error:
            return f"bad VAPID authorization: {type(error).__name__} {error}"
        if scheme.lower() != "vapid" or json.loads(unb64url(header)).get("alg") != "ES256":
            return "not VAPID with ES256"
        if claims.get("aud") != self.origin:
            return f"aud {claims.get('aud')} is not {self.origin}"
        if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
            return f"exp {claims.get('exp')} is not within 24 hours"
        if claims.get("sub") != self.contact:
            return f"sub {claims.get('sub')} is not {self.contact}"
        return None
