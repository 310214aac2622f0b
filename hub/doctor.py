"""`satchel hub doctor`: what stops phones from using this hub, and how to fix each thing: its
certificate (names, chain, expiry), the clock (a Raspberry Pi has no real-time clock), DNS, the
port, free disk, the data directory's permissions, the bundles' integrity and, where Chromium is
installed, a real secure context with an active service worker. Also the certificate reading
shared with the start-up message (`what_works`)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")
SOON_DAYS = 21
CLOCK_SLACK = datetime.timedelta(hours=1)
LOW_DISK_BYTES = 1_000_000_000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Finding:
    check: str
    ok: bool
    message: str
    fix: str = ""


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --- certificates -----------------------------------------------------------------------------

def load_chain(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file, the hub's own first. Raises ValueError or OSError."""
    chain = x509.load_pem_x509_certificates(path.read_bytes())
    if not chain:
        raise ValueError(f"{path} holds no certificate")
    return chain


def certificate_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def name_matches(name: str, names: list[str]) -> bool:
    name = name.lower().rstrip(".")
    for pattern in (n.lower() for n in names):
        if pattern == name or (pattern.startswith("*.") and name.count(".") >= 2 and name.split(".", 1)[1] == pattern[2:]):
            return True
    return False


def days_left(cert: x509.Certificate, now: datetime.datetime) -> int:
    return (cert.not_valid_after_utc - now) // datetime.timedelta(days=1)


def served_certificate(data: Path, tls_cert: str | Path | None) -> Path | None:
    """The certificate the hub serves: --tls-cert, or the one kept in DATA/tls/ (satchel hub cert)."""
    if tls_cert:
        return Path(tls_cert)
    kept = data / "tls" / "cert.pem"
    return kept if kept.is_file() else None


def what_works(host: str, port: int, cert_path: Path | None, public_name: str | None = None,
               now: datetime.datetime | None = None) -> list[str]:
    """The start-up message's lines: what works on this hub, in words that need no docs (each a
    sentence; the first says whether phones can install the app)."""
    now = now or now_utc()
    lines = []
    if host in LOCAL_HOSTS:
        lines.append(f"Only this machine can reach this hub (it listens on {host}): to serve phones, start it with "
                     "--host 0.0.0.0.")
    if cert_path is None:
        lines.append("Not secure (plain http): phones get the lessons as a website only; they can't install it for offline "
                     "use, keep progress offline or get notifications. To fix: get a certificate for the name phones use "
                     "(satchel hub cert ..., or give --tls-cert and --tls-key), and point the hotspot's DNS at this hub: "
                     "satchel hub hotspot --name NAME --address THIS-HUB'S-ADDRESS.")
        return lines
    try:
        cert = load_chain(cert_path)[0]
    except (OSError, ValueError) as error:
        return [*lines, f"The certificate {cert_path} cannot be read ({error}): phones will refuse this hub."]
    names = certificate_names(cert)
    suffix = "" if port == 443 else f":{port}"
    shown = ", ".join(f"https://{n}{suffix}/" for n in names) or "(no name: the certificate holds none)"
    lines.append(f"Secure: phones can install the app for offline use at {shown}")
    left = days_left(cert, now)
    if cert.not_valid_after_utc <= now:
        lines.append(f"WARNING: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}: phones refuse it and can't "
                     "update the app. Renew it (satchel hub cert ...) and restart the hub; or, if the date is wrong, set "
                     "the clock: sudo date -s 'YYYY-MM-DD HH:MM'.")
    elif left < SOON_DAYS:
        lines.append(f"WARNING: the certificate expires in {left} days (on {cert.not_valid_after_utc:%Y-%m-%d}): renew it "
                     "before then (satchel hub cert ...), or phones will refuse this hub.")
    if public_name and not name_matches(public_name, names):
        lines.append(f"WARNING: the certificate is not for {public_name} (it is for {', '.join(names) or 'no name'}): phones "
                     f"that open https://{public_name}/ will refuse it. Get one for {public_name}.")
    return lines


def check_certificate(cert_path: Path | None, name: str | None, ca: Path | None, now: datetime.datetime) -> list[Finding]:
    if cert_path is None:
        return [Finding("certificate", False, "No certificate: the hub serves plain http, so phones can't install the app "
                        "for offline use.", "Get one for the name phones use (satchel hub cert ...), or give --tls-cert "
                        "and --tls-key to the hub (and to this doctor).")]
    try:
        chain = load_chain(cert_path)
    except (OSError, ValueError) as error:
        return [Finding("certificate", False, f"The certificate {cert_path} cannot be read: {error}.",
                        "Give the PEM file the hub serves (--tls-cert).")]
    leaf, findings = chain[0], []
    names = certificate_names(leaf)
    if name and not name_matches(name, names):
        findings.append(Finding("certificate name", False, f"The certificate is for {', '.join(names) or 'no name'}, not "
                                f"{name}: phones opening https://{name}/ refuse it.", f"Get a certificate for {name}."))
    elif name:
        findings.append(Finding("certificate name", True, f"The certificate is for {name}."))
    if leaf.not_valid_after_utc <= now:
        findings.append(Finding("certificate expiry", False, f"The certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d} "
                                f"({-days_left(leaf, now)} days ago): phones refuse it.",
                                "Renew it (satchel hub cert ...) and restart the hub; if the date shown is wrong, the "
                                "clock is: see the clock check."))
    elif leaf.not_valid_before_utc > now:
        findings.append(Finding("certificate expiry", False, f"The certificate is valid only from "
                                f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: phones refuse it until then.",
                                "The clock is probably behind: see the clock check."))
    elif days_left(leaf, now) < SOON_DAYS:
        findings.append(Finding("certificate expiry", False, f"The certificate expires in {days_left(leaf, now)} days "
                                f"({leaf.not_valid_after_utc:%Y-%m-%d}).", "Renew it before then (satchel hub cert ...)."))
    else:
        findings.append(Finding("certificate expiry", True, f"The certificate is valid for {days_left(leaf, now)} more days."))
    findings.append(check_chain(chain, name or (names[0] if names else None), ca))
    return findings


def check_chain(chain: list[x509.Certificate], name: str | None, ca: Path | None) -> Finding:
    """Whether the chain leads to a trusted root (checked at a time the leaf is valid: expiry is its own finding)."""
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
    roots_file = ca or SYSTEM_CAS
    try:
        roots = x509.load_pem_x509_certificates(roots_file.read_bytes())
    except (OSError, ValueError) as error:
        return Finding("certificate chain", False, f"Cannot read the trusted roots {roots_file}: {error}.",
                       "Give the CA that signed the certificate with --ca, or install ca-certificates.")
    if name is None:
        return Finding("certificate chain", False, "The certificate holds no name to check its chain for.", "Get one for the name phones use.")
    leaf = chain[0]
    when = max(leaf.not_valid_before_utc, min(now_utc(), leaf.not_valid_after_utc - datetime.timedelta(seconds=1)))
    try:
        subject = x509.DNSName(name) if not _is_ip(name) else x509.IPAddress(__import__("ipaddress").ip_address(name))
        verifier = PolicyBuilder().store(Store(roots)).time(when).build_server_verifier(subject)
        verifier.verify(leaf, chain[1:])
    except (VerificationError, ValueError) as error:
        whose = f"the CA in {ca}" if ca else "the system's trusted authorities"
        return Finding("certificate chain", False, f"The certificate's chain does not lead to {whose}: {error}.",
                       "Phones refuse a self-signed certificate or one whose intermediate is missing: serve the full chain "
                       "(certificate then intermediates, in one file) from an authority phones trust.")
    return Finding("certificate chain", True, f"The certificate's chain verifies against {ca or 'the system trusted authorities'}.")


def _is_ip(name: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


# --- the clock ---------------------------------------------------------------------------------

def newest_known_time(cert_path: Path | None, sites: list[Path], store) -> tuple[datetime.datetime, str] | None:
    """The latest moment this hub knows has passed, and what says so."""
    seen: list[tuple[datetime.datetime, str]] = []
    if cert_path:
        try:
            seen.append((load_chain(cert_path)[0].not_valid_before_utc, "the certificate's start date"))
        except (OSError, ValueError):
            pass
    for site in sites:
        if built := bundle_date(site):
            seen.append((built, f"the build of {site}"))
    if store is not None:
        try:
            rows = store.query("SELECT MAX(received) FROM statements")
            if rows and rows[0][0]:
                received = datetime.datetime.fromisoformat(str(rows[0][0]).replace("Z", "+00:00"))
                seen.append((received if received.tzinfo else received.replace(tzinfo=datetime.UTC),
                             "the newest progress received"))
        except Exception:  # the database check says what is wrong with it
            pass
    return max(seen) if seen else None


def bundle_date(site: Path) -> datetime.datetime | None:
    """When a bundle was built: its satchel/version.json's date (a folder's file, an archive's entry)."""
    from .archives import POINTER
    try:
        if site.is_dir() and (site / POINTER).is_file():
            site = site / (site / POINTER).read_text(encoding="utf-8").strip()
        if site.is_file():
            import zipfile
            with zipfile.ZipFile(site) as archive:
                info = archive.getinfo("satchel/version.json")
            return datetime.datetime(*info.date_time, tzinfo=datetime.UTC)
        return datetime.datetime.fromtimestamp((site / "satchel" / "version.json").stat().st_mtime, datetime.UTC)
    except (OSError, KeyError, ValueError):
        return None


def check_clock(newest: tuple[datetime.datetime, str] | None, now: datetime.datetime) -> Finding:
    if newest is None or newest[0] <= now + CLOCK_SLACK:
        return Finding("clock", True, f"The clock says {now:%Y-%m-%d %H:%M} UTC, after everything this hub has seen.")
    behind = newest[0] - now
    days = behind.days
    return Finding("clock", False, f"The clock is {days} days behind ({behind.total_seconds() / 3600:.0f} hours): it says "
                   f"{now:%Y-%m-%d %H:%M} UTC, but {newest[1]} is {newest[0]:%Y-%m-%d %H:%M} UTC. A Raspberry Pi has no "
                   "battery clock: after a power cut without internet it starts from an old date, and phones then see "
                   "its certificate as not yet valid or expired.",
                   f"Set it: sudo date -s 'YYYY-MM-DD HH:MM' (now, in UTC; later than {newest[0]:%Y-%m-%d %H:%M}), or, "
                   "with internet, sudo timedatectl set-ntp true. A real-time clock module keeps it across power cuts.")


# --- the network -------------------------------------------------------------------------------

def own_addresses() -> set[str]:
    """This machine's addresses (iproute2's `ip -j address`), loopback included."""
    addresses = {"127.0.0.1", "::1"}
    try:
        listed = json.loads(subprocess.run(["ip", "-j", "address"], capture_output=True, text=True, timeout=5).stdout or "[]")
        addresses |= {a["local"] for link in listed for a in link.get("addr_info", []) if "local" in a}
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    return addresses


def resolve(name: str) -> set[str]:
    try:
        return {info[4][0] for info in socket.getaddrinfo(name, None)}
    except (socket.gaierror, UnicodeError):
        return set()


def check_dns(name: str, resolved: set[str], mine: set[str]) -> Finding:
    if not resolved:
        return Finding("DNS", False, f"{name} does not resolve here: phones on this network can't find the hub.",
                       f"Make the hotspot's DNS answer it with this hub's address: satchel hub hotspot --name {name} "
                       "--address ADDRESS (then install the files it writes).")
    if not resolved & mine:
        return Finding("DNS", False, f"{name} resolves to {', '.join(sorted(resolved))}, which is not this machine "
                       f"(its addresses: {', '.join(sorted(mine - {'127.0.0.1', '::1'})) or 'loopback only'}).",
                       f"Point the name at this hub in the hotspot's DNS: satchel hub hotspot --name {name} --address ADDRESS.")
    return Finding("DNS", True, f"{name} resolves to this machine ({', '.join(sorted(resolved & mine))}).")


def check_port(port: int, secure: bool) -> Finding:
    """Is a Satchel hub listening on `port` of this machine (its /_hub/health answering)?"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    except OSError:
        return Finding("port", False, f"Nothing listens on port {port}: the hub is not running.",
                       "Start it: sudo systemctl start satchel-hub (its log: journalctl -u satchel-hub).")
    import urllib.request
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # who answers, not whether it is trusted
    for scheme in (("https", "http") if secure else ("http", "https")):
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/_hub/health", timeout=5,
                                        context=context if scheme == "https" else None) as answer:
                if "ok" in json.loads(answer.read(65536)):
                    return Finding("port", True, f"The hub answers on port {port} ({scheme}).")
        except Exception:
            continue
    return Finding("port", False, f"Port {port} is taken by something that is not a Satchel hub.",
                   f"See what: sudo ss -ltnp 'sport = :{port}'; stop it, or run the hub on another port.")


# --- the machine -------------------------------------------------------------------------------

def check_disk(data: Path) -> Finding:
    usage = shutil.disk_usage(data)
    if usage.free < LOW_DISK_BYTES or usage.free < usage.total / 10:
        return Finding("disk", False, f"Only {usage.free / 1e9:.2f} GB free on the disk of {data} "
                       f"({usage.free * 100 // max(usage.total, 1)} %): new progress and bundles may not fit.",
                       "Free some space (old files, journalctl --vacuum-size=100M), or use a larger card.")
    return Finding("disk", True, f"{usage.free / 1e9:.1f} GB free on the disk of {data}.")


def check_permissions(data: Path) -> list[Finding]:
    from .install import database_files
    findings = []
    for path in [data, *database_files(data), *(p for p in (data / "tls" / "key.pem", data / "database.txt") if p.is_file())]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            who = "everyone" if mode & 0o007 else "its group"
            findings.append(Finding("permissions", False, f"{path} can be read by {who} (mode {mode:04o}): it holds learners' "
                                    "names and progress (or keys).", f"sudo chmod {'700' if path.is_dir() else '600'} {path}"))
    return findings or [Finding("permissions", True, f"{data} and its database are readable by the hub's user alone.")]


def check_bundles(sites: list[Path]) -> list[Finding]:
    """Every served bundle's files against their hashes: an archive's entries (checked on open), a
    folder's files against its pack lists."""
    from satchel.builder.archive import Archive, ArchiveError

    from .archives import POINTER
    findings = []
    for site in sites:
        try:
            if site.is_dir() and (site / POINTER).is_file():
                Archive.open(site / (site / POINTER).read_text(encoding="utf-8").strip())
            elif site.is_file():
                Archive.open(site)
            elif problem := folder_problem(site):
                raise ArchiveError(problem)
            findings.append(Finding("bundle", True, f"{site}: every file matches its hash."))
        except (ArchiveError, OSError, ValueError) as error:
            findings.append(Finding("bundle", False, f"{site} is damaged: {str(error).rstrip('.')}.",
                                    "Import the bundle again from its archive (satchel hub import FILE.satchel), or rebuild it."))
    return findings


def folder_problem(site: Path) -> str | None:
    packs = site / "satchel" / "packs"
    indexes = sorted(packs.glob("*.json")) if packs.is_dir() else []
    if not indexes:
        return f"no pack lists in {packs}"
    for index_path in indexes:
        for part in json.loads(index_path.read_text(encoding="utf-8"))["parts"]:
            listed = site / part["url"]
            if hashlib.sha256(listed.read_bytes()).hexdigest() != part["sha256"]:
                return f"{part['url']} does not match its hash in {index_path.relative_to(site)}"
            for entry in json.loads(listed.read_text(encoding="utf-8"))["files"]:
                path = site / urllib.parse.unquote(entry["url"])
                if entry["url"].endswith("/") or entry["url"] == "./":
                    path = path / "index.html"
                if not path.is_file():
                    return f"{entry['url']} is missing (listed in {part['url']})"
                if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                    return f"{entry['url']} does not match its hash in {part['url']} (changed after the build)"
    return None


def check_browser(url: str, address: str | None, trust_spki: str | None) -> Finding:
    """The hub's page in Debian's Chromium: a secure context, and a service worker in control after a reload."""
    from playwright.sync_api import Error, sync_playwright
    args = ["--disable-gpu", "--no-first-run"] + (["--no-sandbox"] if os.geteuid() == 0 else [])  # root: no sandbox
    host = urllib.parse.urlsplit(url).hostname
    if address:
        args.append(f"--host-resolver-rules=MAP {host} {address}")
    if trust_spki:
        args.append(f"--ignore-certificate-errors-spki-list={trust_spki}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            try:
                page = browser.new_page()
                page.goto(url, timeout=30000)
                if not page.evaluate("isSecureContext"):
                    return Finding("browser", False, f"Chromium opens {url} but not as a secure context: phones can't "
                                   "install the app there.", "Serve it over https with a certificate phones trust.")
                page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                page.reload()
                page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20000)
            finally:
                browser.close()
    except Error as error:
        return Finding("browser", False, f"Chromium could not use {url} offline: {str(error).splitlines()[0]}.",
                       "Check the certificate, DNS and port findings above: the service worker needs all three.")
    return Finding("browser", True, f"Chromium opens {url} as a secure context, with its service worker in control.")


def spki_hash(cert: x509.Certificate) -> str:
    import base64
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


# --- all of it ---------------------------------------------------------------------------------

def diagnose(data: Path, url: str | None = None, tls_cert: str | None = None, ca: Path | None = None,
             sites: list[Path] = (), now: datetime.datetime | None = None, resolver=resolve,
             browser: bool = True) -> list[Finding]:
    from .archives import imported
    from .store import Store
    now = now or now_utc()
    parts = urllib.parse.urlsplit(url) if url else None
    name = parts.hostname if parts else None
    port = (parts.port or (443 if parts.scheme == "https" else 80)) if parts else 443
    if not data.is_dir():
        return [Finding("data directory", False, f"{data} is not a directory.",
                        f"Give the hub's data directory (--data), or make one: satchel hub install --data {data}")]
    cert_path = served_certificate(data, tls_cert)
    findings: list[Finding] = []
    store = None
    try:
        store = Store.in_data_dir(data)
        store.query("SELECT 1")
        findings.append(Finding("database", True, "The database answers."))
    except Exception as error:
        findings.append(Finding("database", False, f"The database cannot be used: {str(error)[:300]}.",
                                f"satchel hub init --data {data} makes one; a PostgreSQL one must be running."))
        store = None
    served = [*sites, *imported(data)]
    findings += check_certificate(cert_path, name, ca, now)
    findings.append(check_clock(newest_known_time(cert_path, served, store), now))
    if store is not None:
        store.close()  # before the permissions are looked at: SQLite's -wal and -shm go with it
    resolved: set[str] = set()
    if name:
        resolved = resolver(name)
        findings.append(check_dns(name, resolved, own_addresses()))
    findings.append(check_port(port, secure=cert_path is not None))
    findings.append(check_disk(data))
    findings += check_permissions(data)
    findings += check_bundles(served) if served else [Finding("bundle", False, "This hub serves no bundle.",
                                                              f"Import one: satchel hub import FILE.satchel --data {data}")]
    if url and browser:
        if not Path("/usr/bin/chromium").exists():
            findings.append(Finding("browser", True, "Chromium is not installed here: the secure context was not tried "
                                    "(apt-get install chromium to have it tried)."))
        elif all(f.ok for f in findings):
            trust = None
            if ca and cert_path:  # a private authority: Chromium is told to trust this certificate, whose chain was checked
                trust = spki_hash(load_chain(cert_path)[0])
            address = sorted(resolved & own_addresses())
            findings.append(check_browser(url, address[0] if address else None, trust))
        else:
            findings.append(Finding("browser", False, "Not tried in Chromium: fix the problems above first.", ""))
    return findings


def report(findings: list[Finding], as_json: bool) -> str:
    if as_json:
        return json.dumps({"ok": all(f.ok for f in findings), "checks": [asdict(f) for f in findings]}, indent=1, ensure_ascii=False)
    lines = []
    for f in findings:
        lines.append(f"{'ok' if f.ok else 'PROBLEM'}  {f.check}: {f.message}")
        if not f.ok and f.fix:
            lines.append(f"      To fix: {f.fix}")
    problems = sum(not f.ok for f in findings)
    lines.append("Everything is ready." if not problems else f"{problems} problem{'s' if problems > 1 else ''} to fix.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="satchel hub doctor", description="Check what phones need from this hub (certificate, "
                                     "clock, DNS, port, disk, permissions, bundles, a secure context) and say how to fix each problem.")
    parser.add_argument("sites", nargs="*", help="bundles the hub serves besides those imported into --data")
    parser.add_argument("--data", required=True, help="the hub's data directory")
    parser.add_argument("--url", help="the address phones open, such as https://learn.school.example.org/")
    parser.add_argument("--tls-cert", help="the certificate the hub serves (default: DATA/tls/cert.pem)")
    parser.add_argument("--ca", help="a private authority's certificate to check the chain against (default: the system's)")
    parser.add_argument("--no-browser", action="store_true", help="do not open the hub's page in Chromium")
    parser.add_argument("--json", action="store_true", help="the findings as JSON")
    args = parser.parse_args(argv)
    if args.url and urllib.parse.urlsplit(args.url).scheme not in ("http", "https"):
        print(f"satchel hub doctor: --url {args.url!r} is not an http(s) address such as https://learn.school.example.org/",
              file=__import__("sys").stderr)
        return 2
    findings = diagnose(Path(args.data), args.url, args.tls_cert, Path(args.ca) if args.ca else None,
                        [Path(s) for s in args.sites], browser=not args.no_browser)
    print(report(findings, args.json))
    return 0 if all(f.ok for f in findings) else 1
