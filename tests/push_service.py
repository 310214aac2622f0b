"""A Web Push service on loopback, standing in for a browser vendor's: it checks each request's
VAPID signature (RFC 8292) and decrypts its aes128gcm payload (RFC 8291) with the keys of the
subscription, which it holds as a browser would. Nothing is mocked on the hub's side: pywebpush
talks HTTPS to this server, whose certificate (for 127.0.0.1) the hub trusts through
REQUESTS_CA_BUNDLE, and the hub lets it through only by `push-keys --allow-test-endpoint`.

Also Silent: a listener that accepts TCP connections and never answers, and counts them."""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from pathlib import Path

import http_ece
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PINNED_NAME = "push.example.org"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) files of a self-signed certificate for 127.0.0.1 and push.example.org
    (never resolved: a test connects to 127.0.0.1 under that name), its own authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Satchel test push service")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                         x509.DNSName(PINNED_NAME)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "push-service.pem", folder / "push-service.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class PushService:
    """An https push service on 127.0.0.1; `ca` is the certificate to trust it by."""

    def __init__(self, contact: str, folder: Path):
        self.contact = contact
        self.lock = threading.Lock()
        self.keys: dict[str, tuple] = {}  # subscription name -> (private key, auth secret)
        self.answers: dict[str, list[int]] = {}  # name -> statuses to answer in turn, then 201
        self.delivered: list[tuple[str, dict, dict]] = []  # (name, payload, headers) answered 201
        self.attempts: list[tuple[str, int]] = []  # (name, status) of every request
        self.hosts: list[str] = []  # the Host header of every request
        self.problems: list[str] = []  # VAPID or encryption errors
        self.in_flight = self.most_in_flight = 0
        self.delay = 0.0
        self.trickle: set[str] = set()  # names answered a byte every 0.2 s (for 30 s), never finished
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                name = self.path.rsplit("/", 1)[-1]
                service.hosts.append(self.headers.get("host", ""))
                if name in service.trickle:
                    with service.lock:
                        service.attempts.append((name, 0))
                    self.wfile.write(b"HTTP/1.1 201 Created\r\nx-slow: ")
                    for _ in range(150):
                        time.sleep(0.2)
                        self.wfile.write(b".")
                    return
                with service.lock:
                    service.in_flight += 1
                    service.most_in_flight = max(service.most_in_flight, service.in_flight)
                try:
                    time.sleep(service.delay)
                    status = service.receive(name, dict(self.headers), body)
                finally:
                    with service.lock:
                        service.in_flight -= 1
                self.send_response(status)
                if 300 <= status < 400:  # followed, it would arrive as a request for "redirected"
                    self.send_header("location", f"{service.origin}/push/redirected")
                self.send_header("content-length", "0")
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up (a cut-off attempt, a refused certificate): nothing to report

        self.ca, key = certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca, key)
        self.httpd = Server(("127.0.0.1", 0), Handler)
        # The handshake happens in each request's thread, not in the one that accepts.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.origin = f"https://127.0.0.1:{self.httpd.server_address[1]}"
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


class Silent:
    """A push endpoint that hangs: it accepts TCP connections on 127.0.0.1 and never reads nor
    answers. `connections` counts what connected."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.listener.settimeout(0.1)
        self.origin = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                self.connections.append(self.listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
        for connection in self.connections:
            connection.close()
