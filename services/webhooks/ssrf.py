"""Webhook URLs may not point inside our own network (server-side request forgery).

A URL is checked when it is registered and again before every send (DNS can
change in between): its scheme must be http or https, and every address its
host resolves to must be a public one. Loopback, private, link-local,
multicast, reserved and unspecified addresses are refused, also when written
as an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) or reached through
NAT64 or 6to4 prefixes, unless an admin allowed private targets for the
subscription. The sender connects to the address that was checked, so a
second lookup cannot swap it for another.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to
Resolver = Callable[[str, int], Sequence[str]]

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000


class UnsafeURL(ValueError):
    """A webhook URL we will not call; the message starts with the field's name, `url`."""

    field = "url"


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64 well-known prefix, 6to4)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def is_private(address: IPAddress) -> bool:
    """True for any address that is not a plain public unicast one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and is_private(embedded):
            return True
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _parse(url: str) -> tuple[str, str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"url: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"url: not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL("url: only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise UnsafeURL("url: the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("url: credentials in the URL are not allowed; use the signing secret")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def check_url(url: str, *, allow_private: bool = False, resolve: Resolver | None = None) -> Target:
    """Resolve `url`'s host and refuse it unless every address is public (or allowed)."""
    scheme, host, port = _parse(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: Sequence[str] = [str(literal)]
    else:
        try:
            addresses = (resolve or system_resolver)(host, port)
        except (OSError, UnicodeError, ValueError) as error:  # ValueError: a NUL byte
            raise UnsafeURL(f"url: cannot resolve {host} ({error})") from None
    if not addresses:
        raise UnsafeURL(f"url: {host} resolves to no address")
    if not allow_private:
        for text in addresses:
            if is_private(ipaddress.ip_address(text.split("%", 1)[0])):
                raise UnsafeURL(
                    f"url: {host} resolves to {text}, a loopback, private or reserved address"
                )
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])
