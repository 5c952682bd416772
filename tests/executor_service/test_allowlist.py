"""EntrypointAllowlist on its own: which entrypoints its entries allow, that a refusal says
what to change, and that deciding never imports the code in question (each flow module here
writes a marker file when it is imported)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from cadenza.settings import SettingsError
from executor._allowlist import (
    VARIABLE,
    EntrypointAllowlist,
    EntrypointNotAllowed,
    allowlist_from_env,
    find_module_spec,
    normalise_entry,
)


def allowlist(*entries: str | Path) -> EntrypointAllowlist:
    return EntrypointAllowlist.from_entries([str(entry) for entry in entries])


def allowed(entries: EntrypointAllowlist, entrypoint: str) -> bool:
    try:
        entries.check(entrypoint)
    except EntrypointNotAllowed:
        return False
    return True


def flow_file(path: Path, marker: Path) -> Path:
    """A flow module that leaves `marker` behind if anything imports it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "from executor import flow\n\n@flow\ndef hello():\n    return 1\n"
    )
    return path


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "imported"


@pytest.fixture
def package(tmp_path, marker, monkeypatch):
    """An importable package `<name>` under tmp_path/code (on sys.path), none of it imported."""
    name = f"allowlist_pkg_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "code"
    flow_file(root / name / "__init__.py", marker)
    flow_file(root / name / "flows.py", marker)
    monkeypatch.syspath_prepend(str(root))
    yield name, root
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


# -- module prefixes ---------------------------------------------------------------------------
def test_a_prefix_allows_its_module_and_those_under_it_only():
    entries = allowlist("pkg", "other.sub")
    assert allowed(entries, "pkg:flow")
    assert allowed(entries, "pkg.mod:flow")
    assert allowed(entries, "pkg.mod.deeper:flow")
    assert allowed(entries, "other.sub.mod:flow")
    assert not allowed(entries, "pkgx:flow")
    assert not allowed(entries, "pkgx.mod:flow")
    assert not allowed(entries, "pk:flow")
    assert not allowed(entries, "other:flow")
    assert not allowed(entries, "other.subx:flow")


def test_a_refusal_names_the_entrypoint_the_allowlist_and_the_variable(tmp_path):
    entries = allowlist("pkg", tmp_path)
    with pytest.raises(EntrypointNotAllowed) as info:
        entries.check("os:system")
    message = str(info.value)
    for words in ("'os:system'", "not allowed", "pkg", str(tmp_path.resolve()), VARIABLE):
        assert words in message, (words, message)


def test_an_empty_allowlist_allows_nothing(tmp_path, marker):
    entries = allowlist()
    path = flow_file(tmp_path / "flows.py", marker)
    for entrypoint in (f"{path}:hello", "pkg:flow", "tests.executor_service.flows:quick"):
        with pytest.raises(EntrypointNotAllowed, match="nothing"):
            entries.check(entrypoint)
    assert not marker.exists()


def test_a_malformed_entrypoint_is_refused():
    entries = allowlist("pkg", "/")
    for entrypoint in ("pkg", "pkg:", ":flow", "pkg:not-a-name", "pkg..mod:flow"):
        assert not allowed(entries, entrypoint), entrypoint


# -- directories and files ---------------------------------------------------------------------
def test_a_file_inside_an_allowed_directory_is_allowed_and_not_imported(tmp_path, marker):
    inside = flow_file(tmp_path / "allowed" / "deep" / "flows.py", marker)
    outside = flow_file(tmp_path / "elsewhere" / "flows.py", marker)
    entries = allowlist(tmp_path / "allowed")
    assert allowed(entries, f"{inside}:hello")
    assert not allowed(entries, f"{outside}:hello")
    assert not allowed(entries, f"{tmp_path / 'allowedx' / 'flows.py'}:hello")  # a prefix of the name
    assert not marker.exists()


def test_dot_dot_out_of_an_allowed_directory_is_refused(tmp_path, marker):
    flow_file(tmp_path / "elsewhere" / "flows.py", marker)
    (tmp_path / "allowed").mkdir()
    entries = allowlist(tmp_path / "allowed")
    assert not allowed(entries, f"{tmp_path}/allowed/../elsewhere/flows.py:hello")
    assert allowed(entries, f"{tmp_path}/elsewhere/../allowed/new.py:hello")  # ends up inside


def test_a_symlink_out_of_an_allowed_directory_is_refused(tmp_path, marker):
    outside = flow_file(tmp_path / "elsewhere" / "flows.py", marker)
    allowed_dir = tmp_path / "allowed"
    allowed_dir.mkdir()
    (allowed_dir / "link.py").symlink_to(outside)
    (allowed_dir / "linked_dir").symlink_to(outside.parent, target_is_directory=True)
    # `..` after a symlinked directory goes up from where the link points, not from the link.
    (allowed_dir / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    entries = allowlist(allowed_dir)
    with pytest.raises(EntrypointNotAllowed, match="outside every allowed directory"):
        entries.check(f"{allowed_dir}/link.py:hello")
    assert not allowed(entries, f"{allowed_dir}/linked_dir/flows.py:hello")
    assert not allowed(entries, f"{allowed_dir}/sub/../elsewhere/flows.py:hello")
    assert not marker.exists()


def test_the_checked_real_path_is_what_gets_loaded(tmp_path, marker):
    # A symlink inside the allowed directory, re-pointed outside after the check, must not
    # send the load there: the check hands back the real file it checked.
    allowed_dir = tmp_path / "allowed"
    inside = flow_file(allowed_dir / "real.py", marker)
    outside = flow_file(tmp_path / "elsewhere" / "flows.py", marker)
    link = allowed_dir / "link.py"
    link.symlink_to(inside)
    checked = allowlist(allowed_dir).check(f"{link}:hello")
    assert checked == f"{inside.resolve()}:hello"
    link.unlink()
    link.symlink_to(outside)  # swapped after the check
    assert checked.rpartition(":")[0] == str(inside.resolve())


def test_an_allowed_directory_given_through_a_symlink_or_relatively_is_its_real_path(
    tmp_path, marker, monkeypatch
):
    real = tmp_path / "real"
    inside = flow_file(real / "flows.py", marker)
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    assert allowlist(tmp_path / "alias").directories == (str(real.resolve()),)
    monkeypatch.chdir(tmp_path)
    entries = allowlist("./alias")
    assert entries.directories == (str(real.resolve()),)
    assert allowed(entries, f"{inside}:hello")
    assert allowed(entries, "real/flows.py:hello")  # a relative file, from the working directory


# -- modules found inside allowed directories ----------------------------------------------------
def test_a_module_inside_an_allowed_directory_is_allowed_without_importing_it(package, marker):
    name, root = package
    entries = allowlist(root)
    assert allowed(entries, f"{name}.flows:hello")
    assert allowed(entries, f"{name}:hello")
    assert not marker.exists()
    assert name not in sys.modules and f"{name}.flows" not in sys.modules


def test_a_module_whose_package_lies_outside_the_allowed_directory_is_refused(package, marker):
    """Importing pkg.sub.mod runs pkg/__init__.py too: that file must be allowed as well."""
    name, root = package
    flow_file(root / name / "sub" / "__init__.py", marker)
    flow_file(root / name / "sub" / "mod.py", marker)
    entries = allowlist(root / name / "sub")
    with pytest.raises(EntrypointNotAllowed) as info:
        entries.check(f"{name}.sub.mod:hello")
    assert str((root / name / "__init__.py").resolve()) in str(info.value)
    assert not marker.exists()


def test_a_module_outside_the_allowed_directories_or_not_found_is_refused(package, marker, tmp_path):
    name, _ = package
    entries = allowlist(tmp_path / "elsewhere")
    assert not allowed(entries, f"{name}.flows:hello")
    assert not allowed(entries, "os:system")
    assert not allowed(entries, "sys:exit")  # built in: in no directory
    with pytest.raises(EntrypointNotAllowed, match="not found"):
        entries.check(f"{name}.missing:hello")
    assert not marker.exists()


def test_finding_a_module_imports_no_parent_package(package, marker):
    name, root = package
    spec, origins = find_module_spec(f"{name}.flows")
    assert spec is not None and spec.origin == str(root / name / "flows.py")
    assert origins == [str(root / name / "__init__.py"), str(root / name / "flows.py")]
    assert find_module_spec(f"{name}.flows.deeper")[0] is None  # flows is a module, not a package
    assert not marker.exists() and name not in sys.modules


# -- entries and the variable --------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["", "a-b", "pkg..mod", "pkg.", "1pkg", "pkg mod"])
def test_an_entry_neither_a_module_prefix_nor_a_directory_is_an_error(entry):
    with pytest.raises(ValueError):
        normalise_entry(entry)


def test_the_setting_round_trips_for_a_child_process(tmp_path):
    entries = allowlist("pkg.flows", tmp_path, "~")
    assert entries.as_setting() == f"pkg.flows,{tmp_path.resolve()},{Path.home().resolve()}"
    assert EntrypointAllowlist.from_entries(entries.as_setting().split(",")) == entries


def test_the_variable_unset_is_the_working_directory_and_empty_is_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path))  # a fresh read of the settings
    monkeypatch.delenv(VARIABLE, raising=False)
    assert allowlist_from_env() == EntrypointAllowlist((), (str(tmp_path.resolve()),))
    for empty in ("", " ", ","):
        monkeypatch.setenv(VARIABLE, empty)
        assert allowlist_from_env() == EntrypointAllowlist((), ()), repr(empty)
    monkeypatch.setenv(VARIABLE, "pkg.flows, ./sub ,/srv")
    assert allowlist_from_env() == EntrypointAllowlist(
        ("pkg.flows",), (os.path.realpath(tmp_path / "sub"), os.path.realpath("/srv"))
    )


def test_a_bad_entry_in_the_variable_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv(VARIABLE, "pkg.flows,not-a-module")
    with pytest.raises(SettingsError) as info:
        allowlist_from_env()
    assert str(info.value).startswith(f"{VARIABLE}='pkg.flows,not-a-module' is not valid: expected ")
    assert "\n" not in str(info.value)
