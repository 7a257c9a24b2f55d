"""The outbound policy's rule: names, *.domain, CIDR networks, and how they combine."""

import pytest

from argyll.model import parse_step
from argyll.outbound import ALLOW_ALL, parse_policy, step_problems


def http_step(endpoint, health_check=None):
    http = {"endpoint": endpoint}
    if health_check:
        http["health_check"] = health_check
    return parse_step(
        {"id": "s", "type": "sync", "attributes": {"y": {"role": "output"}}, "http": http}
    )


def test_no_entries_allow_everything():
    assert ALLOW_ALL.allows_all and parse_policy([]).allows_all
    assert ALLOW_ALL.host_allowed("anything.example") and ALLOW_ALL.host_allowed("127.0.0.1")
    assert ALLOW_ALL.address_allowed("169.254.169.254")


def test_entries_are_comma_separated_and_may_repeat():
    policy = parse_policy(["api.example.com, *.svc.local", "10.0.0.0/8,192.168.1.7"])
    assert policy.hosts == {"api.example.com"}
    assert policy.domains == (".svc.local",)
    assert [str(n) for n in policy.networks] == ["10.0.0.0/8", "192.168.1.7/32"]
    assert policy.describe() == "api.example.com,*.svc.local,10.0.0.0/8,192.168.1.7/32"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("svc.local", False),
        ("a.svc.local", True),
        ("a.b.c.svc.local", True),
        ("A.SVC.LOCAL.", True),
        ("evilsvc.local", False),
        ("a.svc.local.evil.com", False),
        ("api.example.com", True),
        ("x.api.example.com", False),
    ],
)
def test_names_and_wildcard_domains(host, allowed):
    policy = parse_policy(["api.example.com,*.svc.local"])
    assert policy.host_allowed(host) is allowed


def test_an_address_literal_needs_a_network_entry():
    assert not parse_policy(["api.example.com"]).host_allowed("10.1.2.3")
    assert parse_policy(["10.0.0.0/8"]).host_allowed("10.1.2.3")
    assert not parse_policy(["10.0.0.0/8"]).host_allowed("127.0.0.1")
    assert parse_policy(["api.example.com", "10.0.0.0/8"]).host_allowed("10.1.2.3")


def test_networks_constrain_addresses_not_names():
    policy = parse_policy(["10.0.0.0/8", "fd00::/8"])
    assert policy.host_allowed("localhost")
    assert policy.address_allowed("10.200.0.1") and policy.address_allowed("fd12::1")
    assert not policy.address_allowed("127.0.0.1")
    assert not policy.address_allowed("::1")
    assert policy.address_allowed("::ffff:10.0.0.1")
    assert not policy.address_allowed("::ffff:127.0.0.1")


@pytest.mark.parametrize("entry", ["*", "*.", "a*b.com", "10.0.0.0/33", "http://x.com", "a..b"])
def test_bad_entries_are_named(entry):
    with pytest.raises(ValueError, match="not a host name"):
        parse_policy([entry])


def test_step_problems_name_each_refused_field():
    policy = parse_policy(["*.svc.local"])
    step = http_step("http://evil.com/run", "http://10.0.0.1/health")
    assert step_problems(policy, step) == [
        ("http.endpoint", "host 'evil.com' is not allowed by the outbound policy (--allow-hosts)"),
        (
            "http.health_check",
            "host '10.0.0.1' is not allowed by the outbound policy (--allow-hosts)",
        ),
    ]
    assert step_problems(policy, http_step("http://a.svc.local/run")) == []
    assert step_problems(ALLOW_ALL, step) == []


def test_a_placeholder_host_is_refused_under_a_name_policy():
    step = http_step("http://{x}/run")
    assert [field for field, _ in step_problems(parse_policy(["a.com"]), step)] == ["http.endpoint"]
