from __future__ import annotations

import pytest

from rightsize.errors import RightsizeError
from rightsize.units import (
    GiB,
    MiB,
    format_bytes,
    format_cpus,
    format_duration,
    parse_bytes,
    parse_cpus,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5g", int(1.5 * GiB)),
        ("768M", 768 * MiB),
        ("16GB", 16 * GiB),
        ("512k", 512 * 1024),
        ("1024", 1024),
        (" 2G ", 2 * GiB),
        ("1536mb", 1536 * MiB),
        ("100", 100),
    ],
)
def test_parse_bytes_compose(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1536Mi", 1536 * MiB),
        ("1.5Gi", int(1.5 * GiB)),
        ("1G", 10**9),
        ("500M", 500 * 10**6),
        ("128974848", 128974848),
    ],
)
def test_parse_bytes_k8s(text: str, expected: int) -> None:
    assert parse_bytes(text, "k8s") == expected


@pytest.mark.parametrize("bad", ["", "abc", "1.5x", "-1G", "G", "1..5g"])
def test_parse_bytes_rejects(bad: str) -> None:
    with pytest.raises(RightsizeError, match="not a memory size"):
        parse_bytes(bad)


def test_format_bytes_round_trips() -> None:
    assert format_bytes(8 * GiB) == "8G"
    assert format_bytes(1536 * MiB) == "1536M"
    assert format_bytes(1536 * MiB, "k8s") == "1536Mi"
    assert format_bytes(8 * GiB, "k8s") == "8Gi"
    assert format_bytes(768 * MiB + 1) == "769M"  # rounds up: never below what was asked
    for n in (64 * MiB, 3 * GiB, 1536 * MiB):
        assert parse_bytes(format_bytes(n)) == n
        assert parse_bytes(format_bytes(n, "k8s"), "k8s") == n


def test_cpus() -> None:
    assert parse_cpus("1.5") == 1.5
    assert parse_cpus("1500m") == 1.5
    assert parse_cpus(2) == 2.0
    assert format_cpus(1.5) == "1.5"
    assert format_cpus(2.0) == "2"
    assert format_cpus(1.5, "k8s") == "1500m"
    assert format_cpus(2.0, "k8s") == "2"
    assert format_cpus(0.25, "k8s") == "250m"
    with pytest.raises(RightsizeError):
        parse_cpus("lots")
    with pytest.raises(RightsizeError):
        parse_cpus("-1")


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("30m") == 1800
    assert parse_duration("24h") == 86400
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("1.5h") == 5400
    assert parse_duration("10") == 10
    assert format_duration(86400) == "1d"
    assert format_duration(5400) == "1.5h"
    for bad in ("24x", "", "h", "-5s"):
        with pytest.raises(RightsizeError, match="not a duration"):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5340, "89m"),
        (5400, "90m"),
        (1209600, "14d"),
        (7200, "2h"),
        (59, "59s"),
        (90.5, "1.508m"),
        (0.5, "0.5s"),
    ],
)
def test_a_duration_reads_as_typed(seconds: float, text: str) -> None:
    from rightsize.units import format_duration_as_typed

    assert format_duration_as_typed(seconds) == text
