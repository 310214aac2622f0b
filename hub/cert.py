"""HTTPS that lasts: `satchel hub cert` gets and renews a certificate with ACME (RFC 8555, through
certbot's `acme` library), a running hub loads a new certificate without a restart, and
certificate_status() says how many days are left (the dashboard shows it).

    DATA/tls/account.key    the ACME account's private key (PEM, 0600)
    DATA/tls/account.json   the account's URL at the ACME server, and the settings of the last run (for --renew)
    DATA/tls/key.pem        the certificate's private key (PEM, 0600)
    DATA/tls/cert.pem       the certificate and its chain (PEM, 0600)

Every file is written to a temporary name and renamed, so a hub never reads half a file; the key
is written before the certificate, and a hub watching cert.pem that finds the two not matching
(between the two renames) keeps the certificate it has and tries again a second later.

Challenges (docs/hub.md, "HTTPS"):
- DNS-01 (`--dns-01-hook CMD`): CMD runs once per name with SATCHEL_ACME_ACTION=add, then again
  with =remove, and SATCHEL_ACME_DOMAIN, SATCHEL_ACME_RECORD (_acme-challenge.NAME) and
  SATCHEL_ACME_VALUE (the TXT record's value); CERTBOT_DOMAIN and CERTBOT_VALIDATION are set too,
  so certbot's manual hooks work. It must return once the record is published.
- HTTP-01 (`--http-01`): a small responder of its own on --http-port (80) for the few seconds
  of the challenge. Not the running hub: a hub serves https on its own port, and nothing else of
  it should listen on port 80.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import shlex
import ssl
import subprocess
import sys
import threading
from contextvars import ContextVar
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

TLS = "tls"
CERT, KEY, ACCOUNT_KEY, ACCOUNT = "cert.pem", "key.pem", "account.key", "account.json"
RENEW_DAYS = 30
WARN_DAYS = 21  # the dashboard warns under this many days left
RELOAD_POLL = 1.0  # seconds between two looks at the certificate file of a running hub
HOOK_SECONDS = 600
ORDER_SECONDS = 180
MAX_PEM = 256 * 1024  # a certificate chain or a key is a few KB
MAX_DOMAINS = 100  # what Let's Encrypt allows in one certificate
CHALLENGE_PATH = "/.well-known/acme-challenge/"

log = logging.getLogger("satchel.hub.cert")


class CertError(Exception):
    """A certificate that cannot be had or used; the message says why and what to do."""


def tls_dir(data: Path) -> Path:
    return Path(data) / TLS


def served_files(data: Path) -> tuple[Path, Path] | None:
    """(cert.pem, key.pem) of DATA/tls/ when both are there: `satchel hub` serves them without --tls-cert."""
    folder = tls_dir(data)
    if (folder / CERT).is_file() and (folder / KEY).is_file():
        return folder / CERT, folder / KEY
    return None


# --- files ------------------------------------------------------------------------------------

def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600, through a temporary file renamed into place, synced); when
    run as root, the file goes to the owner of the data directory (the hub's user)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(descriptor, data)
        os.fchmod(descriptor, 0o600)
        if os.geteuid() == 0:
            owner = path.parent.parent.stat()  # DATA, whose owner is the hub's user
            os.fchown(descriptor, owner.st_uid, owner.st_gid)
            os.chown(path.parent, owner.st_uid, owner.st_gid)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def read_limited(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PEM:
            raise CertError(f"{path} is {size:,} bytes, too big for {what} (at most {MAX_PEM:,})")
        return path.read_bytes()
    except OSError as error:
        raise CertError(f"cannot read {what} {path} ({error.strerror})") from None


def check_pair(cert_pem: bytes, key_pem: bytes, source: str) -> x509.Certificate:
    """The first certificate of `cert_pem`, after checking that `key_pem` is its private key."""
    if len(cert_pem) > MAX_PEM or len(key_pem) > MAX_PEM:
        raise CertError(f"{source}: a certificate or key of more than {MAX_PEM:,} bytes is not one")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise CertError(f"{source}: the certificate is not PEM (-----BEGIN CERTIFICATE-----)") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise CertError(f"{source}: the private key is not an unencrypted PEM key (-----BEGIN PRIVATE KEY-----)") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            chain[0].public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise CertError(f"{source}: the private key is not the certificate's (they come from two different requests)")
    return chain[0]


def install(data: Path, cert_pem: bytes, key_pem: bytes, source: str) -> dict:
    """Check and write a certificate and its key into DATA/tls/ (a running hub loads them within a
    second). Returns its certificate_status()."""
    check_pair(cert_pem, key_pem, source)
    folder = tls_dir(data)
    write_private(folder / KEY, key_pem)  # the key first: see the module's docstring
    write_private(folder / CERT, cert_pem)
    return certificate_status(data)


# --- status -----------------------------------------------------------------------------------

def names_of(cert: x509.Certificate) -> list[str]:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        return [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def describe(cert: x509.Certificate, now: datetime.datetime | None = None) -> dict:
    now = now or datetime.datetime.now(datetime.UTC)
    not_after = cert.not_valid_after_utc
    issuer = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) or cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    names = names_of(cert)
    return {"name": names[0] if names else "", "names": names, "not_after": not_after.isoformat(),
            "days_left": (not_after - now).days if not_after > now else -((now - not_after).days + 1),
            "expired": not_after <= now, "issuer": issuer[0].value if issuer else cert.issuer.rfc4514_string(),
            "serial": cert.serial_number}


def certificate_status(data_dir: Path, cert_file: Path | None = None) -> dict | None:
    """{name, not_after (ISO 8601, UTC), days_left, issuer, ...} of the certificate the hub serves
    (DATA/tls/cert.pem, or `cert_file`), or None when there is none."""
    path = Path(cert_file) if cert_file else tls_dir(data_dir) / CERT
    if not path.is_file():
        return None
    try:
        return describe(x509.load_pem_x509_certificates(read_limited(path, "the certificate"))[0])
    except (CertError, ValueError):
        return {"name": "", "names": [], "not_after": "", "days_left": -1, "expired": True, "issuer": "",
                "serial": 0, "problem": f"{path} is not a PEM certificate"}


def status_line(status: dict | None) -> tuple[str, str] | None:
    """(level, words) for the dashboard: "ok", "warning" (under 21 days) or "error" (expired)."""
    if status is None:
        return None
    if status.get("problem"):
        return "error", status["problem"]
    name, days = status["name"], status["days_left"]
    if status["expired"]:
        return "error", (f"Certificate for {name} expired on {status['not_after'][:10]}: devices refuse this hub. "
                         "Run `satchel hub cert --renew`, or import an archive carrying a new one.")
    words = f"Certificate for {name}: {days} day{'' if days == 1 else 's'} left"
    return ("warning", words + " (renew it: `satchel hub cert --renew`)") if days < WARN_DAYS else ("ok", words)


# --- reload without restart -------------------------------------------------------------------

def reloading_context(config, default_factory) -> ssl.SSLContext:
    """uvicorn's ssl_context_factory: the context uvicorn would make, and a task on the server's
    event loop that loads the certificate again into that same context whenever its files change.
    New handshakes get the new certificate; open connections keep theirs."""
    cert, key = Path(config.ssl_certfile), Path(config.ssl_keyfile or config.ssl_certfile)
    loaded = _stamp(cert, key)  # before loading: a change from now on is loaded again
    context = default_factory()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not in a serving process: nothing to watch
        return context
    task = loop.create_task(watch(context, cert, key, loaded))
    _watching.add(task)
    task.add_done_callback(_watching.discard)
    return context


_watching: set = set()


def _stamp(*paths: Path):
    try:
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in (p.stat() for p in paths))
    except OSError:
        return None


async def watch(context: ssl.SSLContext, cert: Path, key: Path, loaded, poll: float = RELOAD_POLL) -> None:
    while True:
        await asyncio.sleep(poll)
        now = _stamp(cert, key)
        if now is None or now == loaded:
            continue
        try:
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError, ValueError) as error:
            # between the key's rename and the certificate's, or a file being copied: next time
            log.warning("satchel hub: %s changed but cannot be loaded yet (%s); still serving the certificate before", cert, error)
            continue
        loaded = now
        status = certificate_status(cert.parent, cert)
        print(f"Satchel hub: loaded the new certificate {cert}" +
              (f" for {status['name']}, valid until {status['not_after'][:10]}" if status and status["name"] else ""), flush=True)


# --- ACME -------------------------------------------------------------------------------------

class Http01Responder:
    """Answers /.well-known/acme-challenge/TOKEN on a port for as long as it is open."""

    def __init__(self, host: str, port: int):
        answers: dict[str, bytes] = {}
        self.answers = answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                token = self.path[len(CHALLENGE_PATH):] if self.path.startswith(CHALLENGE_PATH) else None
                body = answers.get(token) if token else None
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as error:
            raise CertError(f"cannot answer the HTTP-01 challenge on port {port} ({error.strerror}): another program "
                            f"listens there, or this user may not open it (ports under 1024 need root or "
                            f"CAP_NET_BIND_SERVICE). Stop it for a minute, give --http-port, or use --dns-01-hook") from None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_hook(command: str, action: str, domain: str, value: str) -> None:
    record = f"_acme-challenge.{domain.removeprefix('*.')}"
    env = dict(os.environ, SATCHEL_ACME_ACTION=action, SATCHEL_ACME_DOMAIN=domain, SATCHEL_ACME_RECORD=record,
               SATCHEL_ACME_VALUE=value, CERTBOT_DOMAIN=domain, CERTBOT_VALIDATION=value)
    try:
        done = subprocess.run(shlex.split(command), env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=HOOK_SECONDS)
    except (OSError, ValueError) as error:
        raise CertError(f"cannot run the DNS-01 hook {command!r} ({error})") from None
    except subprocess.TimeoutExpired:
        raise CertError(f"the DNS-01 hook {command!r} ran for more than {HOOK_SECONDS} s (to {action} {record})") from None
    if done.returncode != 0:
        raise CertError(f"the DNS-01 hook {command!r} failed (exit {done.returncode}) to {action} the TXT record "
                        f"{record}: {(done.stderr or done.stdout).strip()[-500:] or 'it said nothing'}")


def _new_private_key(kind: str) -> bytes:
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def obtain(data: Path, domains: list[str], directory: str, email: str | None, http_port: int | None = None,
           http_host: str = "", dns_hook: str | None = None, ca_bundle: str | None = None) -> dict:
    """Get a certificate for `domains` from the ACME server at `directory`, and install it."""
    import josepy as jose
    import requests
    from acme import challenges, client, crypto_util, errors, messages

    folder = tls_dir(data)
    if (folder / ACCOUNT_KEY).is_file():
        account_pem = read_limited(folder / ACCOUNT_KEY, "the ACME account key")
    else:
        account_pem = _new_private_key("rsa")
        write_private(folder / ACCOUNT_KEY, account_pem)
    account_key = jose.JWKRSA(key=serialization.load_pem_private_key(account_pem, password=None))
    net = client.ClientNetwork(account_key, user_agent="satchel-hub", verify_ssl=ca_bundle or True)
    if ca_bundle:
        net.session.verify = ca_bundle
    try:
        acme = client.ClientV2(client.ClientV2.get_directory(directory, net), net=net)
    except (requests.RequestException, errors.Error, ValueError) as error:
        raise CertError(f"cannot reach the ACME directory {directory} ({type(error).__name__}: {str(error)[:300]}). "
                        "Check the address (Let's Encrypt's is https://acme-v02.api.letsencrypt.org/directory) and "
                        "that this machine is online; nothing changed") from None
    try:
        try:
            registration = acme.new_account(messages.NewRegistration.from_data(email=email, terms_of_service_agreed=True))
        except errors.ConflictError as known:  # this account key has an account there already
            registration = messages.RegistrationResource(uri=str(known.location), body=messages.Registration())
            net.account = registration
        write_private(folder / ACCOUNT, json.dumps({"account": registration.uri, "directory": directory}).encode())
        key_pem = _new_private_key("ec")
        order = acme.new_order(crypto_util.make_csr(key_pem, domains))
        responder, hooked = None, []
        try:
            for authorization in order.authorizations:
                domain = authorization.body.identifier.value
                if authorization.body.status == messages.STATUS_VALID:  # proved lately, for this account: reused
                    continue
                wanted = challenges.DNS01 if dns_hook else challenges.HTTP01
                offered = [c for c in authorization.body.challenges if isinstance(c.chall, wanted)]
                if not offered:
                    raise CertError(f"the ACME server offers no {wanted.typ} challenge for {domain}: use "
                                    f"{'--http-01' if dns_hook else '--dns-01-hook CMD'}")
                challenge = offered[0]
                response, validation = challenge.response_and_validation(account_key)
                if dns_hook:
                    run_hook(dns_hook, "add", domain, validation)
                    hooked.append((domain, validation))
                else:
                    if responder is None:
                        responder = Http01Responder(http_host, http_port or 80)
                    responder.answers[challenge.chall.encode("token")] = validation.encode("ascii")
                acme.answer_challenge(challenge, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_SECONDS)
            try:
                finished = acme.poll_and_finalize(order, deadline)
            except errors.ValidationError as failed:
                raise CertError(_validation_problem(failed, bool(dns_hook), http_port or 80)) from None
            except errors.TimeoutError:
                raise CertError(f"the ACME server did not finish the order within {ORDER_SECONDS} s; run again later") from None
        finally:
            if responder is not None:
                responder.close()
            for domain, validation in hooked:
                try:
                    run_hook(dns_hook, "remove", domain, validation)
                except CertError as error:
                    print(f"satchel hub cert: {error} (the record can be removed by hand)", file=sys.stderr)
    except requests.RequestException as error:
        raise CertError(f"lost the ACME server {directory} ({type(error).__name__}); nothing changed, run again") from None
    except errors.Error as error:
        raise CertError(f"the ACME server {directory} refused: {str(error)[:500]}; nothing changed") from None
    except messages.Error as error:
        raise CertError(f"the ACME server {directory} refused: {error.detail or error.typ}; nothing changed") from None
    status = install(data, finished.fullchain_pem.encode("ascii"), key_pem, directory)
    settings = {"account": registration.uri, "directory": directory, "domains": domains, "email": email,
                "http_port": http_port, "http_host": http_host, "dns_hook": dns_hook, "ca_bundle": ca_bundle}
    write_private(folder / ACCOUNT, json.dumps(settings, indent=1).encode())
    return status


def _validation_problem(failed, dns: bool, port: int) -> str:
    lines = []
    for authorization in failed.failed_authzrs:
        domain = authorization.body.identifier.value
        errors = [c.error for c in authorization.body.challenges if c.error is not None]
        detail = "; ".join(str(e.detail or e.typ) for e in errors) or "no reason given"
        lines.append(f"{domain}: {detail}")
    fix = ("the TXT record _acme-challenge.NAME that the hook publishes must be visible to the ACME server when the hook "
           "returns (check the hook, and wait for your DNS provider in it)" if dns else
           f"the ACME server must reach port {port} of this machine at each name (the names' DNS, the port forwarded "
           "to this machine, no firewall in between); or use --dns-01-hook")
    return f"the ACME server could not check the challenge ({'; '.join(lines)}): {fix}. Nothing changed."


def renewal_due(data: Path, renew_days: int) -> tuple[bool, dict | None]:
    status = certificate_status(data)
    return status is None or status.get("problem") is not None or status["days_left"] < renew_days, status


def cmd_cert(args) -> int:
    data = Path(args.data)
    if not data.is_dir():
        print(f"satchel hub cert: {data} is not a hub's data directory: make it with `satchel hub init --data {data}`",
              file=sys.stderr)
        return 2
    settings = {}
    if args.renew and (tls_dir(data) / ACCOUNT).is_file():
        try:
            settings = json.loads(read_limited(tls_dir(data) / ACCOUNT, "the ACME settings"))
        except (CertError, ValueError) as error:
            print(f"satchel hub cert: {tls_dir(data) / ACCOUNT} cannot be read ({error}): give --domain, --directory and "
                  "--http-01 or --dns-01-hook again", file=sys.stderr)
            settings = {}
        if not isinstance(settings, dict):
            settings = {}
    domains = args.domain or settings.get("domains") or []
    directory = args.directory or settings.get("directory")
    dns_hook = args.dns_01_hook or (None if args.http_01 else settings.get("dns_hook"))
    http = args.http_01 or (not args.dns_01_hook and settings.get("http_port") is not None and not dns_hook)
    http_port = args.http_port or settings.get("http_port") or 80
    if not domains or not directory or not (http or dns_hook):
        print("satchel hub cert: give --domain NAME, --directory URL and --http-01 or --dns-01-hook CMD "
              "(--renew remembers them from the first run)", file=sys.stderr)
        return 2
    if http and dns_hook:
        print("satchel hub cert: give --http-01 or --dns-01-hook, not both", file=sys.stderr)
        return 2
    if len(domains) > MAX_DOMAINS or any(len(d) > 253 or not d or any(c.isspace() or c in "/:@" for c in d) for d in domains):
        print(f"satchel hub cert: at most {MAX_DOMAINS} --domain, each a DNS name (school.example.org)", file=sys.stderr)
        return 2
    due, status = renewal_due(data, args.renew_days)
    if status and not status.get("problem") and set(domains) - set(status["names"]):
        due = True  # a name more, or another name: a new certificate
    if args.renew and not due:
        print(f"Certificate for {status['name']}: {status['days_left']} days left, not due for renewal "
              f"(renewed when fewer than {args.renew_days} are left). Nothing changed.")
        return 0
    try:
        status = obtain(data, domains, directory, args.email or settings.get("email"), http_port if http else None,
                        args.http_host or settings.get("http_host") or "", dns_hook, args.ca_bundle or settings.get("ca_bundle"))
    except CertError as error:
        print(f"satchel hub cert: {error}", file=sys.stderr)
        return 1
    print(f"Certificate for {', '.join(status['names'])} from {status['issuer']}, valid until {status['not_after'][:10]} "
          f"({status['days_left']} days), in {tls_dir(data)}. A running hub serving it loads it within a second; "
          f"`satchel hub --data {data}` serves it. Renew with `satchel hub cert --renew --data {data}` every day (cron or a "
          "systemd timer): it does something only when fewer than "
          f"{args.renew_days} days are left.")
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("--data", required=True, help="the hub's data directory: the certificate goes to DATA/tls/")
    parser.add_argument("--domain", action="append", default=[], metavar="NAME", help="a name devices use (repeatable)")
    parser.add_argument("--directory", metavar="URL", help="the ACME server's directory (Let's Encrypt: "
                        "https://acme-v02.api.letsencrypt.org/directory)")
    parser.add_argument("--email", help="where the ACME server writes about the certificate (optional)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--http-01", action="store_true", help="prove the names by answering on --http-port of this machine")
    how.add_argument("--dns-01-hook", metavar="CMD", help="prove the names with DNS TXT records that CMD publishes "
                     "(docs/hub.md, 'HTTPS': its environment variables)")
    parser.add_argument("--http-port", type=int, help="the port the ACME server's port 80 reaches (default 80)")
    parser.add_argument("--http-host", help="the address the HTTP-01 responder listens on (default: every one)")
    parser.add_argument("--ca-bundle", metavar="PEM", help="trust this CA for the ACME server's own https (a private ACME server)")
    parser.add_argument("--renew", action="store_true", help="only when fewer than --renew-days are left; the other "
                        "options default to the last run's")
    parser.add_argument("--renew-days", type=int, default=RENEW_DAYS, help=f"renew when fewer days are left (default {RENEW_DAYS})")


# --- the dashboard's line ---------------------------------------------------------------------

_served: ContextVar[tuple[Path | None, Path | None] | None] = ContextVar("satchel_served_certificate", default=None)


def notice() -> tuple[str, str, dict] | None:
    """(level, string key, values) about the certificate of the hub answering this request, in the
    dashboard's words (hub/strings/*.yml; hub/templates/_certificate.html renders it), or None."""
    served = _served.get()
    if served is None or (served[0] is None and served[1] is None):
        return None
    status = certificate_status(served[0] or Path("."), served[1])
    if status is None:
        return None
    if status.get("problem"):
        return "error", "certificate_problem", {"problem": status["problem"]}
    values = {"name": status["name"], "n": status["days_left"], "date": status["not_after"][:10]}
    if status["expired"]:
        return "error", "certificate_expired", values
    return ("warning", "certificate_renew", values) if status["days_left"] < WARN_DAYS else ("ok", "certificate_days_left", values)


def shows_certificate(app, data_dir: Path | None, cert_file: Path | None):
    """`app` (the dashboard's), with notice() answering for this hub's certificate during its requests."""
    from .dashboard import templates
    templates.globals["certificate_notice"] = notice

    async def wrapped(scope, receive, send):
        token = _served.set((data_dir, cert_file))
        try:
            await app(scope, receive, send)
        finally:
            _served.reset(token)
    return wrapped
