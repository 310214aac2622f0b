"""`satchel hub hotspot`: dnsmasq and hostapd configuration for a Raspberry Pi access point whose
DNS answers the app's public name with the hub's address (so phones reach the hub under the name
its certificate holds, with no internet). Every input is checked: a value with a newline, or a
character the file format gives a meaning to, would write configuration of its own."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

DNSMASQ_FILE = "satchel-dnsmasq.conf"
HOSTAPD_FILE = "satchel-hostapd.conf"
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
INTERFACE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # Linux: IFNAMSIZ - 1, no '/', no space
COUNTRY = re.compile(r"^[A-Z]{2}$")


class HotspotError(ValueError):
    """An input refused, saying which and how to fix it."""


@dataclass(frozen=True)
class Hotspot:
    name: str
    address: str
    interface: str = "wlan0"
    ssid: str = "Satchel"
    passphrase: str | None = None
    country: str = "US"
    channel: int = 6
    upstream: str | None = None  # a DNS server to forward other names to (None: nothing leaves)


def check_name(name: str) -> str:
    """A DNS name (letters, digits, hyphens, dots), lower-cased."""
    name = name.strip().rstrip(".").lower()
    if len(name) > 253 or "." not in name or not all(LABEL.match(label) for label in name.split(".")):
        raise HotspotError(f"--name {name!r} is not a host name: use the name phones open, such as learn.school.example.org "
                           "(letters, digits and hyphens between dots, with at least one dot)")
    return name


def check_address(address: str, what: str = "--address") -> ipaddress.IPv4Address:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise HotspotError(f"{what} {address!r} is not an IPv4 address such as 10.42.0.1") from None
    if not ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        raise HotspotError(f"{what} {address} is not an address of a private network: use one in 10.0.0.0/8, "
                           "172.16.0.0/12 or 192.168.0.0/16 (such as 10.42.0.1)")
    if int(ip) & 0xFF in (0, 255):
        raise HotspotError(f"{what} {address} ends in .0 or .255 (the network or broadcast address): use one such as 10.42.0.1")
    return ip


def check(spot: Hotspot) -> Hotspot:
    """The same settings, checked (HotspotError says what is wrong and how to fix it)."""
    for what, value in (("--name", spot.name), ("--interface", spot.interface), ("--ssid", spot.ssid),
                        ("--passphrase", spot.passphrase or ""), ("--country", spot.country)):
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise HotspotError(f"{what} holds a newline or another control character: it would write lines of its own "
                               "into the configuration; type it without one")
    name = check_name(spot.name)
    check_address(spot.address)
    if spot.upstream is not None:
        try:
            ipaddress.IPv4Address(spot.upstream)
        except ValueError:
            raise HotspotError(f"--upstream {spot.upstream!r} is not an IPv4 address of a DNS server") from None
    if not INTERFACE.match(spot.interface):
        raise HotspotError(f"--interface {spot.interface!r} is not a network interface's name (such as wlan0: `ip link` lists them)")
    ssid = spot.ssid.encode("utf-8")
    if not 1 <= len(ssid) <= 32:
        raise HotspotError(f"--ssid is {len(ssid)} bytes in UTF-8: a Wi-Fi network's name is 1 to 32 bytes")
    if spot.passphrase is not None and not (8 <= len(spot.passphrase) <= 63 and spot.passphrase.isascii()):
        raise HotspotError(f"--passphrase is {len(spot.passphrase)} characters: WPA2 takes 8 to 63 ASCII characters")
    if not COUNTRY.match(spot.country):
        raise HotspotError(f"--country {spot.country!r} is not a two-letter country code in capitals (such as KE, FR, IN): "
                           "it sets which Wi-Fi channels and powers are legal")
    if not 1 <= spot.channel <= 13:
        raise HotspotError(f"--channel {spot.channel} is not a 2.4 GHz channel (1 to 13)")
    return Hotspot(name, spot.address, spot.interface, spot.ssid, spot.passphrase, spot.country, spot.channel, spot.upstream)


def dhcp_range(address: str) -> tuple[str, str]:
    """Addresses handed out: the /24 of the hub's address, except the hub's own."""
    network = ipaddress.IPv4Network(f"{address}/24", strict=False)
    low, high = network.network_address + 10, network.network_address + 250
    own = ipaddress.IPv4Address(address)
    if low <= own <= high:  # the hub's own address is never leased: lease the larger side
        low, high = (own + 1, high) if high - own >= own - low else (low, own - 1)
    return str(low), str(high)


def dnsmasq_conf(spot: Hotspot) -> str:
    spot = check(spot)
    low, high = dhcp_range(spot.address)
    forwarding = (f"# other names go to {spot.upstream} (when this hub is online)\nserver={spot.upstream}\n" if spot.upstream else
                  "# nothing is forwarded: names other than the hub's get no answer (there is no internet here)\n")
    return (f"# Satchel hotspot: DHCP and DNS on {spot.interface} (written by `satchel hub hotspot`)\n"
            f"interface={spot.interface}\nbind-interfaces\nlisten-address={spot.address}\n"
            "no-resolv\nno-hosts\ndomain-needed\nbogus-priv\n" + forwarding +
            f"# the app's name answers with the hub's address\naddress=/{spot.name}/{spot.address}\n"
            f"dhcp-range={low},{high},255.255.255.0,12h\n"
            f"dhcp-option=option:router,{spot.address}\n"
            f"dhcp-option=option:dns-server,{spot.address}\n"
            "dhcp-authoritative\n")


def hostapd_conf(spot: Hotspot) -> str:
    spot = check(spot)
    security = ("# an open network: anyone in range can join (the lessons are https still)\n" if spot.passphrase is None else
                f"wpa=2\nwpa_key_mgmt=WPA-PSK\nrsn_pairwise=CCMP\nwpa_passphrase={spot.passphrase}\n")
    return (f"# Satchel hotspot: the access point on {spot.interface} (written by `satchel hub hotspot`)\n"
            f"interface={spot.interface}\ndriver=nl80211\nssid2={spot.ssid.encode('utf-8').hex()}\nutf8_ssid=1\n"
            f"country_code={spot.country}\nieee80211d=1\nhw_mode=g\nchannel={spot.channel}\nieee80211n=1\n"
            "wmm_enabled=1\nauth_algs=1\nignore_broadcast_ssid=0\n" + security)


def write(spot: Hotspot, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text, mode in ((DNSMASQ_FILE, dnsmasq_conf(spot), 0o644), (HOSTAPD_FILE, hostapd_conf(spot), 0o600)):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)  # hostapd's holds the passphrase
        written.append(path)
    return written


def next_steps(spot: Hotspot, dnsmasq: str, hostapd: str) -> str:
    return (f"To use them (as root):\n"
            f"  cp {dnsmasq} /etc/dnsmasq.d/satchel.conf\n  cp {hostapd} /etc/hostapd/hostapd.conf\n"
            f"  ip address add {spot.address}/24 dev {spot.interface}   (or set it for good in NetworkManager or /etc/network/interfaces)\n"
            "  systemctl unmask hostapd && systemctl enable --now hostapd dnsmasq\n"
            f"Phones that join then open https://{spot.name}/ and reach this hub.")


def main(argv: list[str]) -> int:
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="satchel hub hotspot", description="Print or write dnsmasq and hostapd configuration "
                                     "for a Wi-Fi access point whose DNS answers the app's name with this hub's address.")
    parser.add_argument("--name", required=True, help="the name phones open (the certificate's), such as learn.school.example.org")
    parser.add_argument("--address", required=True, help="this hub's address on the hotspot (private IPv4, such as 10.42.0.1)")
    parser.add_argument("--interface", default="wlan0", help="the Wi-Fi interface (default wlan0)")
    parser.add_argument("--ssid", default="Satchel", help="the Wi-Fi network's name (at most 32 bytes; default Satchel)")
    security = parser.add_mutually_exclusive_group(required=True)
    security.add_argument("--passphrase", help="WPA2 passphrase, 8 to 63 characters")
    security.add_argument("--open", action="store_true", help="an open network, with no passphrase")
    parser.add_argument("--country", default="US", help="two-letter country code: which channels are legal (default US)")
    parser.add_argument("--channel", type=int, default=6, help="2.4 GHz channel, 1 to 13 (default 6)")
    parser.add_argument("--upstream", help="forward other names to this DNS server (when the hub is online); default: none")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--print", action="store_true", help="print both files (the default)")
    output.add_argument("--write", metavar="DIR", help=f"write {DNSMASQ_FILE} and {HOSTAPD_FILE} into DIR")
    args = parser.parse_args(argv)
    spot = Hotspot(args.name, args.address, args.interface, args.ssid, None if args.open else args.passphrase,
                   args.country, args.channel, args.upstream)
    try:
        spot = check(spot)
        if args.write:
            dnsmasq, hostapd = write(spot, Path(args.write))
            print(f"Wrote {dnsmasq} and {hostapd} (mode 0600: it holds the passphrase).\n" + next_steps(spot, dnsmasq, hostapd))
            return 0
    except HotspotError as error:
        print(f"satchel hub hotspot: {error}; nothing was written", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"satchel hub hotspot: cannot write into {args.write}: {error}", file=sys.stderr)
        return 2
    print(f"# --- {DNSMASQ_FILE} (for /etc/dnsmasq.d/satchel.conf)\n{dnsmasq_conf(spot)}\n"
          f"# --- {HOSTAPD_FILE} (for /etc/hostapd/hostapd.conf)\n{hostapd_conf(spot)}\n"
          + "\n".join("# " + line for line in next_steps(spot, DNSMASQ_FILE, HOSTAPD_FILE).splitlines()))
    return 0
