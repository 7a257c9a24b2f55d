"""One redaction rule for every URL shown: the password goes, the rest stays."""

import pytest

from argyll.redaction import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@db:6379/0", "redis://:***@db:6379/0"),
        ("redis://user:s3cret@db:6379/0", "redis://user:***@db:6379/0"),
        (
            "rediss://default:p%40ss:w@db:6380/0?ssl_ca_certs=/ca.pem",
            "rediss://default:***@db:6380/0?ssl_ca_certs=/ca.pem",
        ),
        ("rediss+cluster://u:a@b@node:7000", "rediss+cluster://u:***@node:7000"),
        ("redis://user@db:6379/0", "redis://user@db:6379/0"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("memory://", "memory://"),
    ],
)
def test_passwords_are_masked(url, shown):
    assert redact_url(url) == shown
