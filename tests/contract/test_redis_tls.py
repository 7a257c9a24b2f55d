"""``rediss://`` with certificate options and ``user:password@`` reach redis-py unchanged,
while the URL shown anywhere hides the password."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

from argyll.store.redis.settings import redis_settings

TLS_OPTIONS = (
    "ssl_ca_certs=/etc/argyll/ca.pem&ssl_certfile=/etc/argyll/client.pem"
    "&ssl_keyfile=/etc/argyll/client.key&ssl_cert_reqs=required&ssl_check_hostname=true"
)


def test_certificate_options_and_credentials_reach_the_driver() -> None:
    settings = redis_settings(
        f"rediss://argyll:s3cret@redis.internal:6380/1?prefix=p:&{TLS_OPTIONS}"
    )
    client = Redis.from_url(settings.client_url)
    pool = client.connection_pool
    assert pool.connection_class is SSLConnection
    kwargs = pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"]) == ("argyll", "s3cret")
    assert kwargs["ssl_ca_certs"] == "/etc/argyll/ca.pem"
    assert kwargs["ssl_certfile"] == "/etc/argyll/client.pem"
    assert kwargs["ssl_keyfile"] == "/etc/argyll/client.key"
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_check_hostname"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis.internal", 6380, 1)
    assert settings.prefix == "p:"
    assert settings.shown_url.startswith("rediss://argyll:***@redis.internal:6380/1?")
    assert "s3cret" not in settings.shown_url
