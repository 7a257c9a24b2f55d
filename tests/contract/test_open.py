"""Choosing a store by URL with ``open_store``: schemes, the default, awaiting and closing."""

from __future__ import annotations

from pathlib import Path

import pytest

from argyll.errors import StoreError, ValidationError
from argyll.store import default_sqlite_url, open_store


def store_url(backend: str, directory: Path) -> str:
    return "memory://" if backend == "memory" else f"sqlite:///{directory / 'events.db'}"


def test_an_unknown_scheme_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as raised:
        open_store("postgres://localhost/argyll")
    assert [field for field, _ in raised.value.problems] == ["store"]


def test_the_default_url_lives_under_argyll_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARGYLL_HOME", str(tmp_path))
    assert default_sqlite_url() == f"sqlite:///{tmp_path}/argyll.db"
    monkeypatch.delenv("ARGYLL_HOME")
    assert default_sqlite_url() == f"sqlite:///{Path.home()}/.argyll/argyll.db"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_store_can_be_awaited_and_closed_by_hand(backend: str, tmp_path: Path) -> None:
    store = await open_store(store_url(backend, tmp_path))
    await store.aclose()
    with pytest.raises(StoreError):
        await store.read_all()
