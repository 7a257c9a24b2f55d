"""The outbound policy: where the engine's HTTP calls may go (docs/deployment.md).

Entries are host names (``api.example.com``), domains (``*.example.com``: any
subdomain at any depth, not the domain itself) and networks in CIDR notation
(``10.0.0.0/8``; a bare address is a one-address network). Name entries
constrain the host a URL names; network entries constrain the address actually
connected to, after DNS resolution. Given both kinds, both must hold. A URL
whose host is an address literal can be allowed by network entries only. No
entries: everything is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from argyll.model import Step

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Parsed ``--allow-hosts`` entries; the default allows everything."""

    hosts: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()
    """Suffixes with their leading dot: ``*.example.com`` is ``.example.com``."""
    networks: tuple[Network, ...] = ()

    @property
    def allows_all(self) -> bool:
        return not (self.hosts or self.domains or self.networks)

    @property
    def names_given(self) -> bool:
        return bool(self.hosts or self.domains)

    def host_allowed(self, host: str) -> bool:
        """Whether a URL may name ``host`` (an address literal must be in a network entry)."""
        address = _address(host)
        if address is not None:
            return self.address_allowed(address) if self.networks else not self.names_given
        if not self.names_given:
            return True
        name = host.lower().rstrip(".")
        return name in self.hosts or any(name.endswith(suffix) for suffix in self.domains)

    def address_allowed(self, address: str | Address) -> bool:
        """Whether the engine may connect to ``address`` (always, without network entries)."""
        if not self.networks:
            return True
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def url_problem(self, url: str) -> str | None:
        """Why ``url``'s host is outside the policy, or None when it may be called."""
        host = urlsplit(url).hostname or ""
        if self.host_allowed(host):
            return None
        return f"host {host!r} is not allowed by the outbound policy (--allow-hosts)"

    def describe(self) -> str:
        """The entries, as they would be given to ``--allow-hosts``."""
        entries = [*sorted(self.hosts), *(f"*{suffix}" for suffix in self.domains)]
        return ",".join([*entries, *(str(network) for network in self.networks)]) or "*"


ALLOW_ALL = OutboundPolicy()


def parse_policy(entries: Iterable[str]) -> OutboundPolicy:
    """A policy from entries, each possibly a comma-separated list; ValueError naming a bad one."""
    hosts: set[str] = set()
    domains: list[str] = []
    networks: list[Network] = []
    for entry in (part.strip() for item in entries for part in item.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        wildcard = name.startswith("*.")
        if not _NAME.fullmatch(name[2:] if wildcard else name):
            raise ValueError(
                f"{entry!r} is not a host name, *.domain or CIDR network (such as 10.0.0.0/8)"
            )
        if wildcard:
            domains.append(name[1:])
        else:
            hosts.add(name)
    return OutboundPolicy(frozenset(hosts), tuple(dict.fromkeys(domains)), tuple(networks))


def step_problems(policy: OutboundPolicy, step: Step) -> list[tuple[str, str]]:
    """Each URL of an HTTP step the policy refuses, as (field, reason)."""
    if step.http is None or policy.allows_all:
        return []
    urls = {
        "http.endpoint": step.http.endpoint,
        "http.health_check": step.http.health_check,
        "http.compensate": step.http.compensate,
    }
    return [
        (field, problem)
        for field, url in urls.items()
        if url and (problem := policy.url_problem(url)) is not None
    ]


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
