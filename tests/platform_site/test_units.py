from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from platform_site.http.units import iso, ram_mib, ram_request_mib


def test_it_converts_ram_to_mib_rounding_up():
    assert ram_mib("2", "GiB") == 2048
    assert ram_mib(512, "MiB") == 512
    assert ram_mib("512", "KiB") == 1
    assert ram_mib("1500", "KiB") == 2  # never less than asked
    assert ram_mib("zero", "MiB") is None
    assert ram_mib("0", "MiB") is None
    assert ram_mib("1", "TiB") is None


def test_it_reads_ram_requests_as_the_sdk_sends_them():
    assert ram_request_mib("512MiB") == 512
    assert ram_request_mib("1GiB") == 1024
    assert ram_request_mib("2048KiB") == 2
    assert ram_request_mib("0MiB") is None
    assert ram_request_mib(" 512MiB") is None
    assert ram_request_mib("lots") is None
    assert ram_request_mib(None) is None


def test_it_writes_dates_in_utc_with_milliseconds():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2025, 1, 1, 13, 0, 0, 123456, tzinfo=paris)
    assert iso(moment) == "2025-01-01T12:00:00.123Z"
    assert iso(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00.000Z"
    assert iso(None) is None
