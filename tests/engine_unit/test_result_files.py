"""Signed result files: what the engine writes round-trips; a reference is read only from a
result storage and only once its signature verifies, and a refused file is never deserialized
(each hostile file here is a pickle that creates a marker file when loaded). The key: a 0600
file under CADENZA_HOME made once and reused, or CADENZA_RESULT_SIGNING_KEY."""

from __future__ import annotations

import base64
import os
import pickle
import stat
import threading
import uuid
from pathlib import Path

import pytest

from executor import _result_files, settings
from executor._result_files import KEY_FILE_NAME, MAGIC, sign, signing_key
from executor.exceptions import MissingResult, ResultIntegrityError
from executor.results import PERSISTED, ResultFactory, ResultRef, load_result

from ._hostile import hostile_pickle


@pytest.fixture
def home(monkeypatch, tmp_path):
    """A CADENZA_HOME of its own, with the default storage and a key made on first use."""
    path = tmp_path / "home"
    monkeypatch.setenv("CADENZA_HOME", str(path))
    monkeypatch.delenv("CADENZA_LOCAL_STORAGE_PATH", raising=False)
    monkeypatch.delenv("CADENZA_RESULT_SIGNING_KEY", raising=False)
    return path


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "unpickled-marker"
    yield path
    assert not path.exists(), "a refused file was deserialized"


def plant(directory, blob: bytes) -> ResultRef:
    """A file the engine did not write, and a reference to it as a hostile state would carry."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / uuid.uuid4().hex
    path.write_bytes(blob)
    return ResultRef(PERSISTED, str(path), "cloudpickle")


def test_the_hostile_pickle_does_create_its_marker_when_loaded(tmp_path):
    # Without this, a marker that never appears would prove nothing.
    marker = tmp_path / "m"
    pickle.loads(hostile_pickle(marker))
    assert marker.exists()


def test_a_persisted_result_round_trips_and_its_file_is_signed(home):
    ref = ResultFactory(persist_result=True).create_ref({"answer": [1, 2]})
    assert load_result(ref) == {"answer": [1, 2]}
    path = home / "storage" / os.path.basename(ref.storage_key)
    assert path.read_bytes().startswith(MAGIC)


def test_the_serializer_is_the_signed_one_not_the_references(home):
    ref = ResultFactory(persist_result=True).create_ref({1, 2})  # pickled: a set has no JSON
    ref.serializer = "json"  # the reference is not signed: it may say anything
    assert load_result(ref) == {1, 2}


def test_a_tampered_file_is_refused_and_never_deserialized(home, marker):
    # Signed as written, then one byte of the payload flipped: the payload is still a pickle
    # that would run (it would touch "...-markes"), but it is not the one that was signed.
    ref = plant(home / "storage", sign("cloudpickle", hostile_pickle(marker)))
    path = Path(ref.storage_key)
    blob = bytearray(path.read_bytes())
    at = blob.rindex(marker.name.encode()) + len(marker.name) - 1
    blob[at] ^= 0x01
    path.write_bytes(blob)
    with pytest.raises(ResultIntegrityError, match="signature does not verify"):
        load_result(ref)
    assert not marker.with_name(marker.name[:-1] + chr(ord(marker.name[-1]) ^ 1)).exists()


def test_a_file_with_a_flipped_signature_byte_is_refused(home, marker):
    ref = plant(home / "storage", sign("cloudpickle", hostile_pickle(marker)))
    path = Path(ref.storage_key)
    blob = bytearray(path.read_bytes())
    blob[len(MAGIC) + 2 + len("cloudpickle")] ^= 0x80  # the MAC's first byte
    path.write_bytes(blob)
    with pytest.raises(ResultIntegrityError, match=r"signature does not verify \(written with another"):
        load_result(ref)


def test_a_file_written_before_signing_is_refused_as_such(home, marker):
    ref = plant(home / "storage", hostile_pickle(marker))
    with pytest.raises(ResultIntegrityError, match="no signature, so it predates result signing"):
        load_result(ref)


def test_a_pickle_outside_the_storage_is_refused_even_if_signed(home, tmp_path, marker):
    ref = plant(tmp_path / "elsewhere", sign("cloudpickle", hostile_pickle(marker)))
    with pytest.raises(ResultIntegrityError, match="outside the result storage") as info:
        load_result(ref)
    assert ref.storage_key in str(info.value)


def test_a_dot_dot_escape_from_the_storage_is_refused(home, marker):
    outside = plant(home, sign("cloudpickle", hostile_pickle(marker)))  # beside storage/, not in it
    (home / "storage").mkdir()
    escape = os.path.join(str(home / "storage"), "..", os.path.basename(outside.storage_key))
    with pytest.raises(ResultIntegrityError, match="outside the result storage"):
        load_result(ResultRef(PERSISTED, escape, "cloudpickle"))


def test_a_symlink_in_the_storage_pointing_outside_is_refused(home, tmp_path, marker):
    target = plant(tmp_path / "elsewhere", sign("cloudpickle", hostile_pickle(marker)))
    (home / "storage").mkdir(parents=True)
    link = home / "storage" / uuid.uuid4().hex
    link.symlink_to(target.storage_key)
    with pytest.raises(ResultIntegrityError, match="outside the result storage"):
        load_result(ResultRef(PERSISTED, str(link), "cloudpickle"))


def test_a_relative_reference_and_a_device_are_refused(home):
    with pytest.raises(ResultIntegrityError, match="outside the result storage"):
        load_result(ResultRef(PERSISTED, "storage/abc", "cloudpickle"))
    with pytest.raises(ResultIntegrityError, match="outside the result storage"):
        load_result(ResultRef(PERSISTED, "/dev/zero", "cloudpickle"))


def test_a_missing_file_in_the_storage_is_still_a_plain_missing_result(home):
    ref = ResultRef(PERSISTED, str(home / "storage" / uuid.uuid4().hex), "cloudpickle")
    with pytest.raises(MissingResult, match="is missing") as info:
        load_result(ref)
    assert not isinstance(info.value, ResultIntegrityError)


def test_a_storage_a_task_names_is_readable_in_a_process_that_defines_the_task(home, tmp_path):
    from executor import task

    custom = tmp_path / "custom-results"
    # Written by another process of the same engine (same key) into the task's storage.
    written = plant(custom, sign("cloudpickle", pickle.dumps({"rows": 3})))
    with pytest.raises(ResultIntegrityError, match="outside the result storage"):
        load_result(written)  # nothing here names that storage yet

    @task(persist_result=True, result_storage=str(custom))
    def produce():
        return 1

    assert load_result(written) == {"rows": 3}


# -- the key ------------------------------------------------------------------------------------
def test_the_key_file_is_made_once_with_mode_0600_and_reused(home, monkeypatch):
    key = signing_key()
    path = home / KEY_FILE_NAME
    assert path.read_bytes() == key and len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setattr(_result_files, "_key_cache", None)  # as a new process would
    assert signing_key() == key
    assert [p.name for p in home.iterdir()] == [KEY_FILE_NAME]  # no draft left behind


def test_processes_racing_to_make_the_key_all_end_with_the_same_one(home):
    home.mkdir()
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def make():
        start.wait()
        keys.append(_result_files._key_in_home(home))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert (home / KEY_FILE_NAME).read_bytes() == keys[0]
    assert [p.name for p in home.iterdir()] == [KEY_FILE_NAME]


def test_a_key_file_of_the_wrong_length_is_refused_clearly(home):
    home.mkdir()
    (home / KEY_FILE_NAME).write_bytes(b"short")
    from executor.exceptions import ResultSigningKeyError

    with pytest.raises(ResultSigningKeyError, match="is not 32 bytes long"):
        signing_key()


def test_a_given_key_is_shared_by_homes_and_another_key_cannot_read(monkeypatch, tmp_path, marker):
    shared = os.urandom(32)
    monkeypatch.delenv("CADENZA_LOCAL_STORAGE_PATH", raising=False)
    monkeypatch.setenv("CADENZA_RESULT_SIGNING_KEY", shared.hex())
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "a"))
    ref = ResultFactory(persist_result=True).create_ref(["from a"])
    assert signing_key() == shared

    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "b"))  # another machine, the same key
    monkeypatch.setenv("CADENZA_RESULT_SIGNING_KEY", base64.b64encode(shared).decode())
    assert load_result(ref) == ["from a"]
    assert not (tmp_path / "a" / KEY_FILE_NAME).exists() and not (tmp_path / "b" / KEY_FILE_NAME).exists()

    monkeypatch.setenv("CADENZA_RESULT_SIGNING_KEY", os.urandom(32).hex())
    with pytest.raises(ResultIntegrityError, match="signature does not verify"):
        load_result(ref)


@pytest.mark.parametrize("value", ["short", "ab" * 16, "not hex or base64!"])
def test_a_bad_key_setting_names_the_variable_but_never_shows_the_value(monkeypatch, value):
    monkeypatch.setenv("CADENZA_RESULT_SIGNING_KEY", value)
    with pytest.raises(settings.SettingsError, match="CADENZA_RESULT_SIGNING_KEY") as info:
        settings.current()
    assert value not in str(info.value) and "32+ random bytes as hex or base64" in str(info.value)
