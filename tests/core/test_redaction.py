"""One redaction rule for every URL shown: the password goes, the rest stays."""

import pytest

from argyll.redaction import redact_path, redact_text, redact_url


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


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("200 GET /?token=s3cret&x=1 (127.0.0.1) 3ms", "200 GET /?token=***&x=1 (127.0.0.1) 3ms"),
        ("404 POST /webhook/f1/s1/abc-123 (::1)", "404 POST /webhook/f1/s1/*** (::1)"),
        ("store redis://default:pw@h:1/0 down", "store redis://default:***@h:1/0 down"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("path=/engine/flow/f1 status=200", "path=/engine/flow/f1 status=200"),
    ],
)
def test_log_lines_are_masked_whoever_wrote_them(line, shown):
    assert redact_text(line) == shown


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/webhook/f/s/tok", "/webhook/f/s/***"),
        ("/webhook/f/s/tok/more", "/webhook/f/s/***"),
        ("/webhook/f", "/webhook/f"),
        ("/engine/flow/f", "/engine/flow/f"),
    ],
)
def test_a_webhook_path_loses_its_token(path, shown):
    assert redact_path(path) == shown
