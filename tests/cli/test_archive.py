"""``argyll archive read``, and the archive files it reads: a round trip, filters, damage."""

import gzip
import json
from datetime import UTC, date, datetime

from click.testing import CliRunner

from argyll.archive import read_events, write_day
from argyll.cli import cli
from argyll.events import Event, FlowCompleted, FlowStarted, StepSkipped
from argyll.model import FlowID, Plan, StepID

WIDE = {"COLUMNS": "250"}
EMPTY_PLAN = Plan(goals=(), required=(), steps={}, attributes={})
DAY = date(2026, 1, 1)


def flow_events(flow_id: str, minute: int = 0) -> list[Event]:
    flow = FlowID(flow_id)
    moment = datetime(2026, 1, 1, 12, minute, tzinfo=UTC)
    data = [
        FlowStarted(flow, EMPTY_PLAN, {"n": 1, "text": "héllo"}),
        StepSkipped(flow, StepID("s"), "not needed"),
        FlowCompleted(flow),
    ]
    return [Event(f"flow:{flow_id}", n, moment, d) for n, d in enumerate(data, 1)]


def argyll(*args: str):
    return CliRunner().invoke(cli, list(args), env=WIDE)


def same(events):
    return [(e.aggregate, e.seq, e.timestamp, e.data) for e in events]


def test_events_written_read_back_as_they_were(tmp_path):
    written = flow_events("a") + flow_events("b", 1)
    write_day(tmp_path, DAY, written[:3])
    write_day(tmp_path, DAY, written[3:])

    assert same(read_events(tmp_path)) == same(written)
    assert same(read_events(tmp_path / "2026-01-01.jsonl.gz", "b")) == same(written[3:])


def test_day_files_read_oldest_first(tmp_path):
    write_day(tmp_path, date(2026, 1, 2), flow_events("later"))
    write_day(tmp_path, DAY, flow_events("earlier"))

    assert [e.aggregate for e in read_events(tmp_path)][::3] == ["flow:earlier", "flow:later"]


def test_a_member_cut_short_is_skipped_and_the_rest_read(tmp_path, caplog):
    path = write_day(tmp_path, DAY, flow_events("a"))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # a crash mid-write
    write_day(tmp_path, DAY, flow_events("b"))

    assert same(read_events(path)) == same(flow_events("b"))
    assert "damaged" in caplog.text


def test_the_files_are_plain_gzip_of_json_lines(tmp_path):
    path = write_day(tmp_path, DAY, flow_events("a"))
    write_day(tmp_path, DAY, flow_events("b"))

    lines = gzip.decompress(path.read_bytes()).decode().splitlines()

    assert [json.loads(line)["aggregate"] for line in lines] == ["flow:a"] * 3 + ["flow:b"] * 3
    assert json.loads(lines[0])["data_version"] == 1


def test_archive_read_prints_a_table_of_the_events(tmp_path):
    write_day(tmp_path, DAY, flow_events("a") + flow_events("b"))

    result = argyll("archive", "read", str(tmp_path), "--flow", "b")

    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["FLOW", "SEQ", "TIME"]
    assert [row.split()[:3] for row in rows] == [
        ["b", "1", "2026-01-01T12:00:00.000Z"],
        ["b", "2", "2026-01-01T12:00:00.000Z"],
        ["b", "3", "2026-01-01T12:00:00.000Z"],
    ]
    assert "flow_completed" in rows[2]


def test_archive_read_as_json_prints_one_event_a_line(tmp_path):
    events = flow_events("a")
    path = write_day(tmp_path, DAY, events)

    result = argyll("archive", "read", str(path), "-o", "json")

    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed == [event.to_dict() for event in events]


def test_archive_read_refuses_a_missing_path_and_a_file_that_is_not_an_archive(tmp_path):
    missing = argyll("archive", "read", str(tmp_path / "nowhere"))
    (tmp_path / "bad.jsonl.gz").write_bytes(gzip.compress(b"not json\n"))
    bad = argyll("archive", "read", str(tmp_path / "bad.jsonl.gz"))

    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert bad.exit_code == 1 and "cannot read the archive" in bad.stderr


def test_serve_takes_retention_days_and_an_archive_directory(tmp_path):
    from argyll.cli.serve import ServeOptions, engine_options
    from argyll.runtime.retention import RetentionPolicy

    options = ServeOptions(retention=30, archive=tmp_path)

    assert engine_options(options, "http://x")["retention"] == RetentionPolicy(30, tmp_path)
    assert engine_options(ServeOptions(), "http://x")["retention"] is None


def test_serve_refuses_an_archive_without_retention_and_days_not_above_zero(tmp_path):
    lone = argyll("serve", "--archive", str(tmp_path))
    zero = argyll("serve", "--retention", "0")

    assert lone.exit_code == 2 and "--archive needs --retention" in lone.stderr
    assert zero.exit_code == 2 and "--retention" in zero.stderr
