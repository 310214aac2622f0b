"""`satchel hub doctor` catches each problem it claims, with its message; a healthy hub on loopback
(a certificate from a test CA, made with `cryptography`) passes, Chromium included. And
/_hub/health, the monitoring endpoint."""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from satchel.hub.app import create_app
from satchel.hub.doctor import diagnose, what_works
from satchel.hub.store import Store

from tests.conftest import free_port, in_own_thread
from tests.servers import wait_for_port

NAME = "hub.satchel.test"
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


def make_ca(folder: Path):
    """A test certificate authority: (key, certificate, its PEM file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("Satchel test CA")).issuer_name(name("Satchel test CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - 30 * DAY).not_valid_after(NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = folder / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def issue(ca, folder: Path, names=(NAME,), not_before=None, not_after=None) -> tuple[Path, Path]:
    """A server certificate signed by the test CA, and its key, as PEM files in `folder`."""
    ca_key, ca_cert, _ = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name(names[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 90 * DAY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (folder / "key.pem").chmod(0o600)
    return folder / "cert.pem", folder / "key.pem"


def init(data: Path) -> Path:
    subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "init", "--data", str(data)], check=True, capture_output=True)
    return data


def doctor(data: Path, *args: str) -> tuple[int, dict[str, list[dict]]]:
    done = subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "doctor", "--data", str(data), "--json",
                           "--no-browser", *args], capture_output=True, text=True)
    report = json.loads(done.stdout)
    checks: dict[str, list[dict]] = {}
    for finding in report["checks"]:
        checks.setdefault(finding["check"], []).append(finding)
    assert report["ok"] == (done.returncode == 0), done.stderr
    return done.returncode, checks


def problems(checks: dict[str, list[dict]], check: str) -> list[str]:
    return [f"{f['message']} {f['fix']}" for f in checks.get(check, []) if not f["ok"]]



def test_an_expired_certificate_is_caught(ca, demo_site, tmp_path):
    data = init(tmp_path / "data")
    cert, _ = issue(ca, tmp_path / "tls", not_before=NOW - 100 * DAY, not_after=NOW - 3 * DAY)
    status, checks = doctor(data, str(demo_site), "--url", f"https://{NAME}/", "--tls-cert", str(cert), "--ca", str(ca[2]))
    assert status == 1
    [expired] = problems(checks, "certificate expiry")
    assert f"The certificate expired on {(NOW - 3 * DAY):%Y-%m-%d}" in expired and "phones refuse it" in expired
    assert "Renew it (satchel hub cert ...)" in expired
    assert not problems(checks, "certificate chain") and not problems(checks, "certificate name")  # only what is wrong


def test_a_certificate_for_another_name_is_caught(ca, demo_site, tmp_path):
    data = init(tmp_path / "data")
    issue(ca, data / "tls", names=("other.satchel.test",))  # where `satchel hub cert` keeps it
    status, checks = doctor(data, str(demo_site), "--url", f"https://{NAME}/", "--ca", str(ca[2]))
    assert status == 1
    [wrong] = problems(checks, "certificate name")
    assert f"The certificate is for other.satchel.test, not {NAME}" in wrong and f"Get a certificate for {NAME}." in wrong
    assert problems(checks, "certificate chain")  # the chain is checked for the name phones open, too


def test_a_certificate_no_phone_trusts_is_caught(ca, demo_site, tmp_path):
    data = init(tmp_path / "data")
    cert, _ = issue(ca, tmp_path / "tls")
    status, checks = doctor(data, str(demo_site), "--url", f"https://{NAME}/", "--tls-cert", str(cert))  # system CAs
    [untrusted] = problems(checks, "certificate chain")
    assert status == 1 and "does not lead to the system's trusted authorities" in untrusted


def test_a_clock_far_behind_is_caught(ca, demo_site, tmp_path):
    """A Pi that lost power and has no internet starts in the past: its certificate starts 40 days 'later'."""
    data = init(tmp_path / "data")
    cert, _ = issue(ca, tmp_path / "tls", not_before=NOW + 40 * DAY + datetime.timedelta(hours=2), not_after=NOW + 130 * DAY)
    status, checks = doctor(data, str(demo_site), "--url", f"https://{NAME}/", "--tls-cert", str(cert), "--ca", str(ca[2]))
    [clock] = problems(checks, "clock")
    assert status == 1 and "The clock is 40 days behind" in clock and "the certificate's start date" in clock
    assert "Set it: sudo date -s 'YYYY-MM-DD HH:MM'" in clock
    assert "valid only from" in problems(checks, "certificate expiry")[0]


def test_a_world_readable_database_and_data_directory_are_caught(demo_site, tmp_path):
    data = init(tmp_path / "data")
    (data / "hub.sqlite3").chmod(0o644)
    data.chmod(0o750)
    status, checks = doctor(data, str(demo_site))
    said = problems(checks, "permissions")
    assert status == 1
    assert f"{data} can be read by its group (mode 0750): it holds learners' names and progress (or keys). sudo chmod 700 {data}" in said
    assert f"{data / 'hub.sqlite3'} can be read by everyone (mode 0644): it holds learners' names and progress (or keys). " \
           f"sudo chmod 600 {data / 'hub.sqlite3'}" in said


def test_a_tampered_bundle_file_is_caught(demo_site, tmp_path):
    data = init(tmp_path / "data")
    site = tmp_path / "site"
    shutil.copytree(demo_site, site)
    _, checks = doctor(data, str(site))
    assert not problems(checks, "bundle")  # as built
    index = json.loads(next((site / "satchel" / "packs").glob("*.json")).read_text(encoding="utf-8"))
    listed = json.loads((site / index["parts"][0]["url"]).read_text(encoding="utf-8"))["files"]
    page = next(f["url"] for f in listed if f["url"].endswith(".html") or f["url"].endswith("/"))
    target = site / page / "index.html" if page.endswith("/") else site / page
    target.write_bytes(target.read_bytes().replace(b"</body>", b"<script>steal()</script></body>"))
    status, checks = doctor(data, str(site))
    [damaged] = problems(checks, "bundle")
    assert status == 1 and f"{page} does not match its hash in {index['parts'][0]['url']}" in damaged
    assert "Import the bundle again" in damaged


def test_a_tampered_imported_archive_is_caught(demo_site, tmp_path):
    """An archive imported from a USB stick, changed on the hub's disk afterwards (the same size)."""
    data = init(tmp_path / "data")
    command = [sys.executable, "-m", "satchel.builder.cli"]
    subprocess.run([*command, "pack", str(demo_site), "-o", str(tmp_path / "demo.satchel")], check=True, capture_output=True)
    subprocess.run([*command, "hub", "import", str(tmp_path / "demo.satchel"), "--data", str(data)], check=True, capture_output=True)
    _, checks = doctor(data)
    assert not problems(checks, "bundle")
    [stored] = [p for p in (data / "bundles").rglob("*.satchel")]
    raw = bytearray(stored.read_bytes())
    at = raw.index(b"<html")
    raw[at + 1:at + 5] = b"HTML"
    stored.write_bytes(bytes(raw))
    status, checks = doctor(data)
    [damaged] = problems(checks, "bundle")
    assert status == 1 and f"{stored.parent} is damaged: " in damaged
    assert "does not match its SHA-256 in the manifest" in damaged and "Import the bundle again" in damaged


def test_a_clock_behind_the_newest_progress_is_caught(demo_site, tmp_path):
    """Progress received today, and then a power cut: the Pi starts 30 days in the past."""
    from tests.progress_files import progress_file
    data = init(tmp_path / "data")
    store = Store.in_data_dir(data)
    app = create_app([demo_site], store, data_dir=data)
    curriculum = json.loads((demo_site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))["id"]
    status, _ = asgi_request(app, "POST", "/api/progress", json.dumps(progress_file(curriculum=curriculum)).encode())
    assert status == 200
    store.close()
    [clock] = [f for f in diagnose(data, sites=[demo_site], now=NOW - 30 * DAY, browser=False) if f.check == "clock"]
    assert not clock.ok and "The clock is 30 days behind" in clock.message
    assert "the newest progress received" in clock.message and "sudo date -s" in clock.fix


def test_a_port_taken_by_something_else_and_a_name_that_does_not_resolve_are_caught(serve, demo_site, tmp_path):
    data = init(tmp_path / "data")
    other = serve(tmp_path)  # a plain web server, not a hub
    status, checks = doctor(data, str(demo_site), "--url", f"http://{NAME}:{other.port}/")
    assert status == 1
    assert f"Port {other.port} is taken by something that is not a Satchel hub. See what: sudo ss -ltnp 'sport = :{other.port}'" \
        in problems(checks, "port")[0]
    assert f"{NAME} does not resolve here: phones on this network can't find the hub." in problems(checks, "DNS")[0]
    free = free_port()
    _, checks = doctor(data, str(demo_site), "--url", f"https://{NAME}:{free}/")
    assert f"Nothing listens on port {free}: the hub is not running." in problems(checks, "port")[0]


def test_the_start_up_message_says_what_works_without_docs(ca, tmp_path):
    plain = what_works("0.0.0.0", 8080, None)
    assert plain[0].startswith("Not secure (plain http): phones get the lessons as a website only; they can't install it "
                               "for offline use") and "satchel hub hotspot" in plain[0] and "docs/" not in " ".join(plain)
    assert what_works("127.0.0.1", 8080, None)[0].startswith("Only this machine can reach this hub")
    cert, _ = issue(ca, tmp_path / "soon", names=(NAME, "learn.satchel.test"), not_after=NOW + 10 * DAY)
    secure = what_works("0.0.0.0", 443, cert, public_name="school.example.org")
    assert secure[0] == f"Secure: phones can install the app for offline use at https://{NAME}/, https://learn.satchel.test/"
    assert any(line.startswith("WARNING: the certificate expires in 9 days") for line in secure)
    assert any("the certificate is not for school.example.org" in line for line in secure)
    expired, _ = issue(ca, tmp_path / "old", not_before=NOW - 99 * DAY, not_after=NOW - DAY)
    assert any("WARNING: the certificate expired on" in line for line in what_works("0.0.0.0", 8443, expired))


def asgi_get(app, path: str) -> tuple[int, dict]:
    return asgi_request(app, "GET", path)


def asgi_request(app, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
    """One request through the ASGI app, in this process."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())] if body else []
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers,
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    async def run():  # one event loop for the request and whatever the store starts on it
        await app(scope, receive, send)
    in_own_thread(lambda: asyncio.run(run()))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_the_health_endpoint_tells_a_monitor_what_works_and_503_without_a_database(ca, demo_site, tmp_path):
    data = init(tmp_path / "data")
    issue(ca, data / "tls", not_after=NOW + 50 * DAY + datetime.timedelta(hours=1))
    store = Store.in_data_dir(data)
    app = create_app([demo_site], store, data_dir=data)
    status, answer = asgi_get(app, "/_hub/health")
    curriculum = json.loads((demo_site / "satchel" / "curriculum.json").read_text(encoding="utf-8"))
    assert status == 200 and answer["ok"] is True and answer["database"] is True and answer["version"]
    assert answer["bundles"] == [{"curriculum": curriculum["id"], "version": curriculum.get("version")}]
    assert answer["free_disk_bytes"] > 0 and answer["certificate_days_left"] == 50
    assert set(answer) == {"ok", "version", "database", "bundles", "free_disk_bytes", "certificate_days_left"}  # no learner data
    store.close()  # the database gone
    status, answer = asgi_get(app, "/_hub/health")
    assert status == 503 and answer["ok"] is False and answer["database"] is False


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_a_healthy_hub_on_loopback_passes_chromium_included(ca, demo_site, tmp_path):
    """A hub serving https with a certificate from the test CA, for a name that (for this test)
    resolves to loopback: every check passes, and Chromium finds a secure context with an active
    service worker (it is told to trust this certificate only, by its key's hash)."""
    data = init(tmp_path / "data")
    cert, key = issue(ca, data / "tls")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "satchel.builder.cli", "hub", str(demo_site), "--data", str(data),
                                "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process, "the hub")
        trusted = ssl.create_default_context(cafile=str(ca[2]))
        trusted.check_hostname = False
        urllib.request.urlopen(f"https://127.0.0.1:{port}/_hub/health", context=trusted, timeout=10).close()
        findings = in_own_thread(lambda: diagnose(data, f"https://{NAME}:{port}/", ca=ca[2], sites=[demo_site],
                                                  resolver=lambda host: {"127.0.0.1"} if host == NAME else set()))
        assert [f for f in findings if not f.ok] == []
        assert {f.check for f in findings} >= {"certificate name", "certificate expiry", "certificate chain", "clock", "DNS",
                                               "port", "disk", "permissions", "bundle", "browser", "database"}
        assert [f.message for f in findings if f.check == "browser"] == [
            f"Chromium opens https://{NAME}:{port}/ as a secure context, with its service worker in control."]
    finally:
        process.terminate()
        said = process.communicate(timeout=10)[0]
    assert "Only this machine can reach this hub (it listens on 127.0.0.1)" in said  # the start-up message
    assert f"Secure: phones can install the app for offline use at https://{NAME}:{port}/" in said
