"""Reviewer accounts: a users file (YAML, or JSON for a `.json` name) mapping each name to a password hash.

    ana: scrypt:32768:8:1$...
    luis: scrypt:32768:8:1$...

Hashes come from werkzeug.security (scrypt by default), so the file holds no password. It is read again when
it changes on disk: adding or removing a reviewer needs no restart, and a removed reviewer's sessions stop
working at their next request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from werkzeug.security import check_password_hash, generate_password_hash

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_CHARS = 12


class UsersFileError(ValueError):
    """The users file cannot be read or written; the message names the file and the problem."""


def check_user_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise UsersFileError(
            f"reviewer name {name!r} is not allowed: letters, digits and . _ @ - only, up to 64 characters"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
    return password


def read_users(path: Path) -> dict[str, str]:
    """name -> password hash; an absent file has no users."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsersFileError(f"users file {str(path)!r} cannot be read: {error.strerror or error}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise UsersFileError(
            f"users file {str(path)!r} is not valid: {' '.join(str(error).split())}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UsersFileError(f"users file {str(path)!r} must map each reviewer name to a password hash")
    return {str(name): value for name, value in data.items()}


def add_user(path: Path, name: str, password: str) -> bool:
    """Add a reviewer or change their password; True when the name is new. Written atomically, mode 0600."""
    users = read_users(path)
    created = check_user_name(name) not in users
    users[name] = generate_password_hash(check_password(password))
    text = json.dumps(users, indent=2) + "\n" if path.suffix.lower() == ".json" else yaml.safe_dump(users)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return created


@dataclass
class _Loaded:
    stamp: tuple[int, int] | None
    users: dict[str, str]


class Reviewers:
    """The users file of a running console, read again whenever its size or mtime changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._loaded = _Loaded(stamp=None, users={})
        self._decoy: str | None = None

    def _users(self) -> dict[str, str]:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._loaded.stamp or stamp is None:
            self._loaded = _Loaded(stamp=stamp, users=read_users(self.path))
        return self._loaded.users

    def count(self) -> int:
        return len(self._users())

    def verify(self, name: str, password: str) -> bool:
        """True for a known reviewer with this password. An unknown name costs the same hash check, so the
        answer's timing does not tell which names exist."""
        stored = self._users().get(name)
        if stored is None:
            if self._decoy is None:
                self._decoy = generate_password_hash("not a reviewer's password")
            check_password_hash(self._decoy, password)
            return False
        return check_password_hash(stored, password)

    def fingerprint(self, name: str) -> str | None:
        """Changes when the reviewer's password does; None once they are removed. Kept in the session, so
        either ends it."""
        stored = self._users().get(name)
        return hashlib.sha256(stored.encode()).hexdigest()[:16] if stored else None
