"""Operations subcommands: serve, submit, backfill, reconcile, replay, quarantine, status."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Filled in by the intake/webhook/operations work."""
