"""`satchel hub hotspot`: dnsmasq and hostapd files that answer the app's name with the hub's
address, checked by Debian's dnsmasq; and inputs that would write configuration of their own refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from satchel.hub.hotspot import Hotspot, HotspotError, dnsmasq_conf, hostapd_conf

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
GOOD = ["--name", "learn.school.example.org", "--address", "10.42.0.1", "--passphrase", "correct horse battery", "--country", "KE"]


def hotspot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satchel.builder.cli", "hub", "hotspot", *args], capture_output=True, text=True)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_written_files_answer_the_name_with_the_hub_and_pass_dnsmasqs_check(tmp_path):
    done = hotspot(*GOOD, "--write", str(tmp_path))
    assert done.returncode == 0, done.stderr
    dnsmasq = (tmp_path / "satchel-dnsmasq.conf").read_text(encoding="utf-8")
    assert "address=/learn.school.example.org/10.42.0.1" in lines(dnsmasq)
    assert {"interface=wlan0", "no-resolv", "listen-address=10.42.0.1"} <= set(lines(dnsmasq))
    assert not [line for line in lines(dnsmasq) if line.startswith("server=")]  # nothing forwarded upstream
    assert "dhcp-range=10.42.0.2,10.42.0.250,255.255.255.0,12h" in lines(dnsmasq) or \
        "dhcp-range=10.42.0.10,10.42.0.250,255.255.255.0,12h" in lines(dnsmasq)
    if not Path(DNSMASQ).exists():
        pytest.skip("Debian's dnsmasq is not installed (scripts/dev.sh installs dnsmasq-base)")
    checked = subprocess.run([DNSMASQ, "--test", "-C", str(tmp_path / "satchel-dnsmasq.conf")], capture_output=True, text=True)
    assert checked.returncode == 0 and "syntax check OK" in checked.stdout + checked.stderr, checked.stderr
    hostapd = dict(line.split("=", 1) for line in lines((tmp_path / "satchel-hostapd.conf").read_text(encoding="utf-8")))
    assert hostapd["wpa"] == "2" and hostapd["wpa_key_mgmt"] == "WPA-PSK" and hostapd["rsn_pairwise"] == "CCMP"
    assert hostapd["wpa_passphrase"] == "correct horse battery" and hostapd["country_code"] == "KE"
    assert bytes.fromhex(hostapd["ssid2"]).decode() == "Satchel" and hostapd["interface"] == "wlan0"
    assert (tmp_path / "satchel-hostapd.conf").stat().st_mode & 0o077 == 0  # it holds the passphrase


def ask(port: int, name: str) -> list[str]:
    """The A records a DNS server on loopback `port` answers for `name` (a query made by hand: RFC 1035)."""
    import socket
    import struct
    query = struct.pack(">HHHHHH", 0x5a7c, 0x0100, 1, 0, 0, 0) + b"".join(
        bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2)
        udp.sendto(query, ("127.0.0.1", port))
        reply = udp.recv(4096)
    ident, _, _, answers, _, _ = struct.unpack(">HHHHHH", reply[:12])
    assert ident == 0x5a7c
    at, records = len(query), []
    for _ in range(answers):
        at += 2 if reply[at] >= 0xC0 else reply.index(b"\0", at) + 1 - at  # the name: a pointer, or labels
        kind, _, _, size = struct.unpack(">HHIH", reply[at:at + 10])
        if kind == 1:
            records.append(socket.inet_ntoa(reply[at + 10:at + 10 + size]))
        at += 10 + size
    return records


def test_dnsmasq_really_answers_the_name_with_the_hubs_address(tmp_path):
    """The generated file, on loopback: dnsmasq started with it (its interface lines swapped for lo
    and a free port) answers the app's name with the hub's address, and no other name."""
    import os
    import time
    if not os.path.exists(DNSMASQ):
        pytest.skip("Debian's dnsmasq is not installed (scripts/dev.sh installs dnsmasq-base)")
    from tests.conftest import free_port
    conf = dnsmasq_conf(Hotspot("learn.school.example.org", "10.42.0.1", passphrase="correct horse"))
    kept = [line for line in conf.splitlines() if not line.startswith(("interface=", "listen-address=", "dhcp-"))]
    (tmp_path / "test.conf").write_text("\n".join([*kept, "interface=lo", "listen-address=127.0.0.1", ""]), encoding="utf-8")
    port = free_port()
    process = subprocess.Popen([DNSMASQ, "--keep-in-foreground", f"--conf-file={tmp_path / 'test.conf'}", f"--port={port}",
                                f"--pid-file={tmp_path / 'pid'}", "--user=nobody" if os.geteuid() == 0 else f"--user={os.getlogin()}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = ask(port, "learn.school.example.org")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()
                time.sleep(0.1)
        assert answer == ["10.42.0.1"]
        assert ask(port, "example.com") == []  # not forwarded: no internet behind the hotspot
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("change, message", [
    (["--name", "learn.example.org\naddress=/#/6.6.6.6"], "newline"),
    (["--ssid", "School\nwpa=0"], "newline"),
    (["--passphrase", "long enough\nwpa=0"], "newline"),
    (["--interface", "wlan0\ndhcp-script=/tmp/x"], "newline"),
    (["--name", "learn/example.org"], "not a host name"),
    (["--name", "bad-.example.org"], "not a host name"),
    (["--address", "8.8.8.8"], "not an address of a private network"),
    (["--address", "10.42.0.999"], "not an IPv4 address"),
    (["--address", "127.0.0.1"], "not an address of a private network"),
    (["--interface", "wlan0 eth0"], "not a network interface"),
    (["--ssid", "é" * 17], "34 bytes"),
    (["--passphrase", "short"], "8 to 63"),
    (["--passphrase", "x" * 64], "8 to 63"),
    (["--country", "kenya"], "two-letter country code"),
    (["--upstream", "dns.example.org"], "not an IPv4 address"),
])
def test_injection_and_bad_values_are_refused_saying_which_and_why(tmp_path, change, message):
    args = list(GOOD)
    flag = change[0]
    if flag in args:
        args[args.index(flag) + 1] = change[1]
    else:
        args += change
    done = hotspot(*args, "--write", str(tmp_path / "out"))
    assert done.returncode == 2 and flag in done.stderr and message in done.stderr and "nothing was written" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_an_open_network_has_no_wpa_and_print_shows_both_files():
    done = hotspot("--name", "learn.school.example.org", "--address", "192.168.4.1", "--open", "--ssid", "École")
    assert done.returncode == 0, done.stderr
    assert "address=/learn.school.example.org/192.168.4.1" in done.stdout and "wpa" not in done.stdout
    assert f"ssid2={'École'.encode().hex()}" in done.stdout
    with pytest.raises(HotspotError, match="control character"):
        hostapd_conf(Hotspot("learn.school.example.org", "10.42.0.1", ssid="a\rb"))
