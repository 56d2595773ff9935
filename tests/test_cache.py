"""The user-level cache (entangled.cache): location, verified reads, atomic writes, locking."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from entangled import cache


def test_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ENTANGLED_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("ENTANGLED_CACHE_DIR")
    assert cache.cache_dir() == tmp_path / "xdg" / "entangled"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "entangled"


def test_every_user_level_file_lives_in_the_one_cache_folder(monkeypatch, tmp_path):
    """The hypothesis database and the MNIST-1D reference accuracies follow the same
    environment variables as the ledger and data entries."""
    from entangled.reports.calibration import references_cache
    from entangled.theory.isolation import hypothesis_cache_dir

    monkeypatch.setenv("ENTANGLED_CACHE_DIR", str(tmp_path / "mine"))
    assert references_cache() == tmp_path / "mine" / "mnist1d-references.json"
    assert hypothesis_cache_dir() == tmp_path / "mine" / "hypothesis"
    monkeypatch.delenv("ENTANGLED_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert references_cache() == tmp_path / "xdg" / "entangled" / "mnist1d-references.json"


def test_tests_do_not_use_the_real_user_cache():
    assert cache.cache_dir() != Path.home() / ".cache" / "entangled"
    assert "user-cache" in str(cache.cache_dir())


def test_round_trip_and_every_kind_of_damage_reads_as_missing():
    slot = cache.entry("data", "example.bin")
    assert slot.read() is None
    payload = bytes(range(256)) * 3 + b"\n\nend"
    assert slot.write(payload) and slot.read() == payload
    assert slot.path.parent == cache.cache_dir() / "data"
    content = slot.path.read_bytes()
    damaged = {
        "truncated": content[:-5],
        "one byte changed": content[:-1] + bytes([content[-1] ^ 1]),
        "no header": payload,
        "header only": content.split(b"\n", 1)[0],
        "empty": b"",
    }
    for kind, bad in damaged.items():
        slot.path.write_bytes(bad)
        assert slot.read() is None, kind
        assert not slot.path.exists(), f"{kind}: a corrupted entry is removed"


def test_an_unwritable_cache_folder_is_no_cache_and_no_error(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ENTANGLED_CACHE_DIR", str(blocker / "cache"))
    slot = cache.entry("ledger", "x.json")
    assert slot.write(b"payload") is False
    assert slot.read() is None
    with slot.locked():  # runs the block unlocked
        pass


@pytest.mark.parametrize("namespace,name", [("../up", "x"), ("data", "a/b"), ("data", ".."),
                                            ("data", ""), ("", "x"), ("data", 3)])
def test_names_must_be_plain_file_names(namespace, name):
    with pytest.raises(ValueError, match="namespace|name"):
        cache.entry(namespace, name)


WRITER = textwrap.dedent("""
    import sys
    from entangled import cache
    slot = cache.entry("data", "shared.bin")
    payload = sys.argv[1].encode() * 200_000
    for _ in range(int(sys.argv[2])):
        assert slot.write(payload)
""")


def test_concurrent_writers_never_leave_a_partial_entry():
    """Two processes rewrite one entry with different 1-2 MB payloads while this process
    reads it: every read is one whole payload or a miss, never a mixture or a part."""
    env = dict(os.environ)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, tag, "15"], env=env)
               for tag in ("A", "BB")]
    slot = cache.entry("data", "shared.bin")
    seen = set()
    while any(w.poll() is None for w in writers):
        payload = slot.read()
        if payload is not None:
            assert payload in (b"A" * 200_000, b"BB" * 200_000)
            seen.add(payload[:2])
    assert all(w.wait() == 0 for w in writers)
    assert slot.read() in (b"A" * 200_000, b"BB" * 200_000)
    assert not [p for p in slot.path.parent.iterdir() if p.name.endswith(".tmp")]


HOLDER = textwrap.dedent("""
    import sys, time
    from entangled import cache
    slot = cache.entry("data", "slow.bin")
    with slot.locked():
        open(sys.argv[1], "w").close()   # tell the test the lock is held
        time.sleep(1.0)
        slot.write(b"computed by the holder")
""")


def test_a_second_process_waits_for_the_one_computing_and_reads_its_entry(tmp_path):
    holding = tmp_path / "holding"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(holding)], env=dict(os.environ))
    deadline = time.monotonic() + 120
    while not holding.exists():
        assert holder.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    slot = cache.entry("data", "slow.bin")
    assert slot.read() is None  # not yet written
    with slot.locked():
        assert slot.read() == b"computed by the holder"
    assert holder.wait() == 0
