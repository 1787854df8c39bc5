"""Review console subcommands: `review add-user NAME` adds a reviewer (or changes their password) in
REVIEW_USERS_FILE."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from service.errors import UsageError
from service.review.users import UsersFileError, add_user
from service.settings import load_review_users_settings

Commands = argparse._SubParsersAction  # a private name, but the only type add_subparsers() has


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    review = commands.add_parser("review", help="the review console's reviewers")
    actions = review.add_subparsers(dest="review_action", required=True, metavar="ACTION")
    add = actions.add_parser("add-user", help="add a reviewer or change their password")
    add.add_argument("name")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input, not a prompt"
    )
    add.add_argument("--users-file", help="default: REVIEW_USERS_FILE")
    add.set_defaults(handler=run_add_user)


def run_add_user(args: argparse.Namespace) -> int:
    path = args.users_file or load_review_users_settings().review_users_file
    if not path:
        raise UsageError("no users file: set REVIEW_USERS_FILE or pass --users-file")
    password = _read_password(args.password_stdin)
    try:
        created = add_user(Path(path), args.name, password)
    except UsersFileError as error:
        raise UsageError(str(error)) from None
    print(f"{'added' if created else 'changed the password of'} reviewer {args.name} in {path}")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise UsageError("the two passwords differ")
    return password
