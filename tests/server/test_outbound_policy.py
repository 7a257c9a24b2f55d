"""``--allow-hosts`` / ARGYLL_ALLOW_HOSTS, and a registration outside it refused over REST."""

from __future__ import annotations

import httpx
import pytest
from server_support import problem
from test_cli import argyll_serve, parse

from argyll.cli import main


def http_step(step_id: str, endpoint: str, health_check: str | None = None) -> dict:
    http = {"endpoint": endpoint, **({"health_check": health_check} if health_check else {})}
    return {"id": step_id, "type": "sync", "attributes": {"y": {"role": "output"}}, "http": http}


def test_entries_come_from_repeated_flags_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ARGYLL_ALLOW_HOSTS", raising=False)
    assert parse(["serve"]).allow_hosts.allows_all
    flagged = parse(["serve", "--allow-hosts", "a.com,*.svc.local", "--allow-hosts", "10.0.0.0/8"])
    assert flagged.allow_hosts.describe() == "a.com,*.svc.local,10.0.0.0/8"
    monkeypatch.setenv("ARGYLL_ALLOW_HOSTS", "*.corp.example,192.168.0.0/16")
    assert parse(["serve"]).allow_hosts.describe() == "*.corp.example,192.168.0.0/16"


def test_a_bad_entry_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--allow-hosts", "10.0.0.0/33"])
    assert exited.value.code == 2
    assert "'10.0.0.0/33' is not a host name, *.domain or CIDR network" in capsys.readouterr().err


async def test_registration_outside_the_policy_is_a_400_naming_the_field() -> None:
    flags = ("--store", "memory://", "--no-dashboard", "--allow-hosts", "*.svc.local,10.0.0.0/8")
    async with argyll_serve(*flags) as url, httpx.AsyncClient(base_url=url) as client:
        refused = await client.post(
            "/engine/step",
            json=http_step("s", "http://a.svc.local/run", "http://metadata.internal/h"),
        )
        body = problem(refused, 400)
        assert "http.health_check" in body["detail"]
        assert "'metadata.internal' is not allowed" in body["detail"]
        assert "http.endpoint" not in body["detail"]
        assert (await client.get("/engine/step")).json()["steps"] == []
        created = await client.post("/engine/step", json=http_step("s", "http://a.svc.local/run"))
        assert created.status_code == 201, created.text
