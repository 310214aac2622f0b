"""HTTPS that lasts (hub/cert.py): `satchel hub cert` against Pebble, Debian's ACME test server, on
loopback (with pebble-challtestsrv, from the same package, as its DNS); a running hub loading a new
certificate while clients keep connecting; the days left on the dashboard; certificates carried
in signed archives."""

from __future__ import annotations

import datetime
import http.client
import json
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from satchel.hub import cert

from tests.conftest import free_port
from tests.servers import wait_for_port
from tests.test_archive import satchel
from tests.test_signed_archives import hub, imports, new_key, refused, tiny_site

PEBBLE, CHALLTESTSRV = shutil.which("pebble"), shutil.which("pebble-challtestsrv")
needs_pebble = pytest.mark.skipif(not (PEBBLE and CHALLTESTSRV), reason="Debian's pebble is not installed (scripts/dev.sh installs it)")
NAME = "school.satchel.test"


# --- certificates made here -------------------------------------------------------------------

def pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def new_ca(name: str = "Satchel test CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return key, certificate


def issued(ca, names: list[str], days: float = 90, serial: int | None = None) -> tuple[bytes, bytes, int]:
    """(cert.pem, key.pem, serial) of a certificate for `names` signed by `ca`, `days` from now (negative: expired)."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    serial = serial or x509.random_serial_number()
    alternatives = [x509.IPAddress(__import__("ipaddress").ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
    certificate = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(serial)
                   .not_valid_before(now - datetime.timedelta(days=max(2, 1 - days))).not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName(alternatives), critical=False).sign(ca_key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM), pem_key(key), serial


# --- Pebble -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pebble(tmp_path_factory):
    """Pebble's directory URL, its CA file (for its own https), and challtestsrv's management URL."""
    root = tmp_path_factory.mktemp("pebble")
    ca = new_ca("Pebble WFE test CA")
    wfe_cert, wfe_key, _ = issued(ca, ["localhost", "127.0.0.1"], days=30)
    (root / "wfe.pem").write_bytes(wfe_cert)
    (root / "wfe.key").write_bytes(wfe_key)
    (root / "ca.pem").write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    acme, management, dns, http_port, tls_port, mock = (free_port() for _ in range(6))
    (root / "config.json").write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme}", "managementListenAddress": f"127.0.0.1:{management}",
        "certificate": str(root / "wfe.pem"), "privateKey": str(root / "wfe.key"),
        "httpPort": http_port, "tlsPort": tls_port, "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
    # challtestsrv answers every A query with 127.0.0.1, AAAA with nothing, and the TXT records it is told
    dns_server = subprocess.Popen([CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                                   "-management", f"127.0.0.1:{mock}", "-defaultIPv6", ""],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = subprocess.Popen([PEBBLE, "-config", str(root / "config.json"), "-dnsserver", f"127.0.0.1:{dns}"],
                              env={"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(mock, dns_server, "pebble-challtestsrv")
        wait_for_port(acme, server, "pebble")
        yield {"directory": f"https://localhost:{acme}/dir", "ca": root / "ca.pem", "mock": f"http://127.0.0.1:{mock}",
               "http_port": http_port}
    finally:
        for process in (server, dns_server):
            process.terminate()
            process.wait(10)


HOOK = """import json, os, sys, urllib.request
action = os.environ["SATCHEL_ACME_ACTION"]
assert os.environ["SATCHEL_ACME_RECORD"] == "_acme-challenge." + os.environ["SATCHEL_ACME_DOMAIN"]
assert os.environ["CERTBOT_VALIDATION"] == os.environ["SATCHEL_ACME_VALUE"]
body = {"host": os.environ["SATCHEL_ACME_RECORD"] + ".", "value": os.environ["SATCHEL_ACME_VALUE"]}
with open(sys.argv[2], "a") as log:
    log.write(action + " " + os.environ["SATCHEL_ACME_RECORD"] + "\\n")
if sys.argv[3] == "publish":
    request = urllib.request.Request(sys.argv[1] + ("/set-txt" if action == "add" else "/clear-txt"), data=json.dumps(body).encode())
    urllib.request.urlopen(request, timeout=10).read()
"""


def hook_command(tmp_path: Path, pebble: dict, mode: str = "publish") -> str:
    (tmp_path / "hook.py").write_text(HOOK)
    return f"{sys.executable} {tmp_path / 'hook.py'} {pebble['mock']} {tmp_path / 'hook.log'} {mode}"


def hub_cert(data: Path, *args) -> subprocess.CompletedProcess:
    return satchel("hub", "cert", "--data", data, *args)


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


@needs_pebble
def test_dns_01_issues_then_renews_only_when_due(pebble, tmp_path):
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    hook = hook_command(tmp_path, pebble)
    result = hub_cert(data, "--domain", NAME, "--domain", "www." + NAME, "--directory", pebble["directory"],
                      "--email", "tech@example.org", "--dns-01-hook", hook, "--ca-bundle", pebble["ca"])
    assert result.returncode == 0, result.stderr
    assert f"Certificate for {NAME}, www.{NAME} from Pebble" in result.stdout, result.stdout
    tls = data / "tls"
    for name in ("cert.pem", "key.pem", "account.key", "account.json"):
        assert private(tls / name), name
    first = x509.load_pem_x509_certificates((tls / "cert.pem").read_bytes())[0]
    assert set(cert.names_of(first)) == {NAME, "www." + NAME}
    cert.check_pair((tls / "cert.pem").read_bytes(), (tls / "key.pem").read_bytes(), "issued")  # the key is the certificate's
    log = (tmp_path / "hook.log").read_text().split("\n")
    assert sorted(filter(None, log)) == sorted(f"{a} _acme-challenge.{n}" for a in ("add", "remove") for n in (NAME, "www." + NAME))
    account = (tls / "account.key").read_bytes()

    # not due: nothing happens, and it says so (the settings of the first run are remembered)
    result = hub_cert(data, "--renew", "--renew-days", "1")
    assert result.returncode == 0 and "not due for renewal" in result.stdout and "Nothing changed" in result.stdout, result
    assert x509.load_pem_x509_certificates((tls / "cert.pem").read_bytes())[0].serial_number == first.serial_number
    # due (fewer days left than asked): a new certificate, the same account key
    result = hub_cert(data, "--renew", "--renew-days", "100000")
    assert result.returncode == 0, result.stderr
    second = x509.load_pem_x509_certificates((tls / "cert.pem").read_bytes())[0]
    assert second.serial_number != first.serial_number and set(cert.names_of(second)) == {NAME, "www." + NAME}
    assert (tls / "account.key").read_bytes() == account and private(tls / "key.pem")
    status = cert.certificate_status(data)
    assert status["name"] == NAME and status["serial"] == second.serial_number and "Pebble" in status["issuer"]
    assert status["days_left"] == (second.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).days


@needs_pebble
def test_http_01_answers_on_the_port_the_acme_server_checks(pebble, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    result = hub_cert(data, "--domain", NAME, "--directory", pebble["directory"], "--http-01", "--http-host", "127.0.0.1",
                      "--http-port", pebble["http_port"], "--ca-bundle", pebble["ca"])
    assert result.returncode == 0, result.stderr
    assert cert.certificate_status(data)["names"] == [NAME]
    with socket.socket() as probe:  # the responder is gone once the certificate is there
        assert probe.connect_ex(("127.0.0.1", pebble["http_port"])) != 0


@needs_pebble
def test_errors_say_what_failed_and_change_nothing(pebble, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    nowhere = f"https://127.0.0.1:{free_port()}/dir"
    result = hub_cert(data, "--domain", NAME, "--directory", nowhere, "--http-01", "--ca-bundle", pebble["ca"])
    assert result.returncode == 1 and f"cannot reach the ACME directory {nowhere}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (data / "tls" / "cert.pem").exists()

    # a hook that publishes nothing: the ACME server finds no TXT record
    result = hub_cert(data, "--domain", NAME, "--directory", pebble["directory"], "--dns-01-hook",
                      hook_command(tmp_path, pebble, mode="forget"), "--ca-bundle", pebble["ca"])
    assert result.returncode == 1, result.stdout
    assert f"could not check the challenge ({NAME}:" in result.stderr and "TXT record" in result.stderr, result.stderr
    assert "Nothing changed" in result.stderr and "Traceback" not in result.stderr
    assert not (data / "tls" / "cert.pem").exists()
    assert "remove _acme-challenge." + NAME in (tmp_path / "hook.log").read_text()  # cleaned up all the same

    # a hook that fails
    result = hub_cert(data, "--domain", NAME, "--directory", pebble["directory"], "--dns-01-hook", "false", "--ca-bundle", pebble["ca"])
    assert result.returncode == 1 and "the DNS-01 hook 'false' failed (exit 1)" in result.stderr, result.stderr

    # HTTP-01 on a port that is taken
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hub_cert(data, "--domain", NAME, "--directory", pebble["directory"], "--http-01", "--http-host", "127.0.0.1",
                          "--http-port", port, "--ca-bundle", pebble["ca"])
    assert result.returncode == 1 and f"cannot answer the HTTP-01 challenge on port {port}" in result.stderr, result.stderr
    assert not (data / "tls" / "cert.pem").exists()


# --- status -----------------------------------------------------------------------------------

def test_certificate_status_and_the_dashboards_line(tmp_path):
    ca = new_ca()
    assert cert.certificate_status(tmp_path) is None and cert.status_line(None) is None
    for days, level, words in ((60, "ok", "60 days left"), (10, "warning", "10 days left (renew it"), (-3, "error", "expired on")):
        cert_pem, key_pem, serial = issued(ca, [NAME], days=days + 0.5)
        status = cert.install(tmp_path, cert_pem, key_pem, "test")
        assert (status["name"], status["days_left"], status["issuer"], status["serial"]) == (NAME, days, "Satchel test CA", serial)
        found, line = cert.status_line(status)
        assert found == level and words in line and NAME in line, line
    other_key = pem_key(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(cert.CertError, match="the private key is not the certificate's"):
        cert.install(tmp_path, cert_pem, other_key, "test")


def test_the_dashboard_shows_the_days_left(demo_site, tmp_path):
    from tests.test_dashboard import Browser, set_password
    from tests.test_hub import Hub
    running = Hub([demo_site], tmp_path / "data")  # http: DATA/tls/ is empty at start
    try:
        set_password(running)
        browser = Browser(running)
        browser.sign_in()
        assert 'class="certificate' not in browser.get("_hub/satchel-demo/")[2]  # no certificate: no line
        cert.install(running.data, *issued(new_ca(), [NAME], days=12.5)[:2], "test")  # as an import would, while serving
        status, _, page = browser.get("_hub/satchel-demo/")
        assert status == 200, page[:500]
        assert f"Certificate for {NAME}: 12 days left" in page and 'class="certificate warning"' in page, page[:3000]
    finally:
        running.stop()


# --- reload without restart -------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_a_running_hub_loads_a_new_certificate_without_dropping_a_request(tmp_path, workers):
    ca = new_ca()
    (tmp_path / "ca.pem").write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    data = tmp_path / "data"
    assert satchel("hub", "init", "--data", data).returncode == 0
    old_cert, old_key, old_serial = issued(ca, ["localhost"], days=5)
    new_cert, new_key, new_serial = issued(ca, ["localhost"], days=90)
    cert.install(data, old_cert, old_key, "old")
    site = tiny_site(tmp_path / "site", "1.0.0")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "satchel.builder.cli", "hub", str(site), "--data", str(data), "--port", str(port),
                                "--workers", str(workers)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # no --tls-cert: DATA/tls/ is served
    output: list[str] = []

    def read_output():
        for line in process.stdout:
            output.append(line)
    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    failures, seen, serials, stop = [], [], [], threading.Event()

    def serial_of(connection) -> int:
        return x509.load_der_x509_certificate(connection.sock.getpeercert(binary_form=True)).serial_number

    def fresh_connections():
        while not stop.is_set():
            connection = http.client.HTTPSConnection("localhost", port, context=trusted, timeout=10)
            started = time.monotonic()
            try:
                connection.request("GET", "/index.html")
                response = connection.getresponse()
                body = response.read()
                if response.status != 200 or b"maths 1.0.0" not in body:
                    failures.append(f"{response.status} {body[:100]!r}")
                serials.append((started, time.monotonic(), serial_of(connection)))
                seen.append(serials[-1][2])
            except Exception as error:  # noqa: BLE001 - every failure is what the test counts
                failures.append(repr(error))
            finally:
                connection.close()

    try:
        wait_for_port(port, process, "satchel hub")
        kept = http.client.HTTPSConnection("localhost", port, context=trusted, timeout=10)  # open across the swap
        kept.request("GET", "/index.html")
        assert kept.getresponse().read() and serial_of(kept) == old_serial
        threads = [threading.Thread(target=fresh_connections) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(seen) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        cert.install(data, new_cert, new_key, "new")  # what `satchel hub cert` and `satchel hub import` do
        message = f"loaded the new certificate {data / 'tls' / 'cert.pem'} for localhost"
        while sum(message in line for line in output) < workers and time.monotonic() < deadline and not failures:
            time.sleep(0.01)  # until every process says it loaded it
        loaded = time.monotonic()
        while sum(start > loaded for start, _, _ in serials) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        for thread in threads:
            thread.join(15)
        assert not failures, failures[:5]
        assert old_serial in seen and new_serial in seen, set(seen)
        assert sum(message in line for line in output) == workers, output
        assert {serial for start, _, serial in serials if start > loaded} == {new_serial}  # once loaded, every new handshake gets it
        kept.request("GET", "/index.html")  # the connection opened before is still served, on its old handshake
        assert kept.getresponse().status == 200 and serial_of(kept) == old_serial
        kept.close()
    finally:
        stop.set()
        process.terminate()
        process.wait(15)
        reader.join(5)


# --- certificates in signed archives ----------------------------------------------------------

def test_signed_archives_carry_a_certificate_that_only_a_trusting_hub_installs(tmp_path):
    ministry_key, ministry_pub, _ = new_key(tmp_path, "ministry")
    stranger_key, _, _ = new_key(tmp_path, "stranger")
    central = tmp_path / "central"
    cert_pem, key_pem, serial = issued(new_ca(), [NAME], days=80.5)
    cert.install(central, cert_pem, key_pem, "central")
    site = tiny_site(tmp_path / "site", "1.0.0")

    result = satchel("pack", site, "-o", tmp_path / "unsigned.satchel", "--certificate", central / "tls")
    assert result.returncode == 1 and "travel only in a signed archive: add --sign KEY" in result.stderr, result.stderr
    signed, foreign = tmp_path / "signed.satchel", tmp_path / "foreign.satchel"
    for key, output in ((ministry_key, signed), (stranger_key, foreign)):
        result = satchel("pack", site, "-o", output, "--sign", key, "--certificate", central / "tls")
        assert result.returncode == 0 and "AND ITS PRIVATE KEY" in result.stdout, result.stderr
    from satchel.builder.archive import Archive
    opened = Archive.open(signed)
    assert not any(name.startswith("satchel-tls/") for name in opened.entries)  # never among the files served
    assert opened.read_tls("key.pem") == key_pem

    trusting = hub(tmp_path / "trusting", ministry_pub)
    refused(foreign, trusting, "is signed by the key")
    assert not (trusting / "tls").exists()
    result = imports(signed, trusting)
    assert result.returncode == 0, result.stderr
    assert f"Installed its certificate for {NAME} (80 days left)" in result.stdout, result.stdout
    assert (trusting / "tls" / "key.pem").read_bytes() == key_pem and private(trusting / "tls" / "key.pem")
    assert cert.certificate_status(trusting)["serial"] == serial
    assert all(private(copy) for copy in (trusting / "bundles" / "maths").glob("*.satchel"))  # the copy kept holds the key too

    # An older signed archive replayed (or a new version packed with an older certificate): the newer one stays.
    older_pem, older_key, _ = issued(new_ca(), [NAME], days=30.5)
    cert.install(central, older_pem, older_key, "central")
    older = tmp_path / "older.satchel"
    assert satchel("pack", tiny_site(tmp_path / "site-2", "1.0.1"), "-o", older, "--sign", ministry_key,
                   "--certificate", central / "tls").returncode == 0
    result = imports(older, trusting)
    assert result.returncode == 0 and f"Kept this hub's certificate for {NAME} (80 days left)" in result.stdout, result.stdout
    assert cert.certificate_status(trusting)["serial"] == serial and (trusting / "tls" / "key.pem").read_bytes() == key_pem

    # the signature taken out (no `satchel pack` makes such an archive): refused by both hubs
    import zipfile

    from satchel.builder.archive import SIGNATURE
    unsigned = tmp_path / "unsigned.satchel"
    with zipfile.ZipFile(signed) as old, zipfile.ZipFile(unsigned, "w", compression=zipfile.ZIP_STORED) as new:
        for info in old.infolist():
            if info.filename != SIGNATURE:
                new.writestr(info, old.read(info))
    refused(unsigned, hub(tmp_path / "trusting-2", ministry_pub), "is not signed")
    trusting_none = hub(tmp_path / "open")
    for archive in (unsigned, signed):
        refused(archive, trusting_none, "carries a TLS certificate and its private key, and this hub trusts no signing key")
    assert not (trusting_none / "tls").exists() and not (trusting_none / "bundles" / "maths" / "current").exists()
