"""service.review.users and the `review add-user` command: reviewers and their password hashes."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from service.cli import main
from service.cli.exit_codes import EXIT_USAGE
from service.review.users import Reviewers, UsersFileError, add_user, read_users

PASSWORD = "correct horse battery"


def test_added_user_logs_in_with_that_password_only(tmp_path: Path) -> None:
    users_file = tmp_path / "reviewers.yaml"
    assert add_user(users_file, "ana", PASSWORD) is True
    reviewers = Reviewers(users_file)
    assert reviewers.verify("ana", PASSWORD)
    assert not reviewers.verify("ana", PASSWORD + "!")
    assert not reviewers.verify("luis", PASSWORD)


def test_file_holds_a_hash_not_the_password_and_is_private(tmp_path: Path) -> None:
    users_file = tmp_path / "reviewers.yaml"
    add_user(users_file, "ana", PASSWORD)
    text = users_file.read_text()
    assert PASSWORD not in text
    assert read_users(users_file)["ana"].startswith(("scrypt:", "pbkdf2:"))
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600


def test_changing_a_password_changes_the_fingerprint_and_removal_ends_it(tmp_path: Path) -> None:
    users_file = tmp_path / "reviewers.json"
    add_user(users_file, "ana", PASSWORD)
    reviewers = Reviewers(users_file)
    before = reviewers.fingerprint("ana")
    assert add_user(users_file, "ana", "another long password") is False
    assert reviewers.fingerprint("ana") not in (None, before)
    users_file.write_text(json.dumps({}))
    assert reviewers.fingerprint("ana") is None


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 65, "ana\n"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsersFileError):
        add_user(tmp_path / "u.yaml", name, PASSWORD)


def test_short_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError, match="at least 12"):
        add_user(tmp_path / "u.yaml", "ana", "short")


def test_users_file_of_wrong_shape_is_an_error_naming_it(tmp_path: Path) -> None:
    users_file = tmp_path / "u.yaml"
    users_file.write_text("- ana\n- luis\n")
    with pytest.raises(UsersFileError, match=r"u\.yaml"):
        read_users(users_file)


def test_cli_add_user_reads_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users_file = tmp_path / "reviewers.yaml"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REVIEW_USERS_FILE", str(users_file))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["review", "add-user", "ana", "--password-stdin"]) == 0
    assert "added reviewer ana" in capsys.readouterr().out
    assert Reviewers(users_file).verify("ana", PASSWORD)


def test_cli_add_user_without_users_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REVIEW_USERS_FILE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["review", "add-user", "ana", "--password-stdin"]) == EXIT_USAGE
    assert "REVIEW_USERS_FILE" in capsys.readouterr().err
