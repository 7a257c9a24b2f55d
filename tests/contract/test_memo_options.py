"""The ``memo_limit`` option every store URL takes: read, checked, and left out of the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from argyll.errors import ValidationError
from argyll.store import open_store
from argyll.store.base import MEMO_LIMIT
from argyll.store.options import split_memo_limit
from argyll.store.redis import redis_settings


def urls(directory: Path, query: str) -> list[str]:
    return [f"memory://?{query}", f"sqlite:///{directory / 'memo.db'}?{query}"]


@pytest.mark.parametrize("backend", [0, 1], ids=["memory", "sqlite"])
async def test_the_url_sets_the_limit_and_the_default_is_the_documented_one(
    backend: int, tmp_path: Path
) -> None:
    async with open_store(urls(tmp_path, "memo_limit=7")[backend]) as store:
        assert store.memo_limit == 7
    async with open_store(urls(tmp_path, "")[backend].rstrip("?")) as store:
        assert store.memo_limit == MEMO_LIMIT == 100_000


def test_the_sqlite_path_is_what_is_left_without_the_option(tmp_path: Path) -> None:
    assert split_memo_limit(f"sqlite:///{tmp_path}/a.db?memo_limit=3") == (
        f"sqlite:///{tmp_path}/a.db",
        3,
    )
    assert split_memo_limit("redis://h/0?prefix=p%3A&memo_limit=3") == (
        "redis://h/0?prefix=p%3A",
        3,
    )


def test_redis_reads_the_option_beside_its_own() -> None:
    settings = redis_settings("redis://127.0.0.1:6379/0?prefix=x:&memo_limit=12&socket_timeout=2")
    assert settings.memo_limit == 12
    assert "memo_limit" not in settings.client_url and "socket_timeout=2" in settings.client_url


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1.5", "", "\uff11"])
def test_a_limit_that_is_not_a_whole_number_from_one_is_refused(value: str, tmp_path: Path) -> None:
    for url in [*urls(tmp_path, f"memo_limit={value}"), f"redis://h/0?memo_limit={value}"]:
        with pytest.raises(ValidationError) as raised:
            if url.startswith("redis"):
                redis_settings(url)
            else:
                split_memo_limit(url)
        assert [field for field, _ in raised.value.problems] == ["store"], url


def test_redis_names_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as raised:
        redis_settings("redis://h/0?memo_limit=0&shards=0")
    assert len(raised.value.problems) == 2
