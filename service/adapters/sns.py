"""Confirming an SNS subscription: one GET of the SubscribeURL, after the caller checked its host."""

from __future__ import annotations

import requests


def confirm_subscription(subscribe_url: str, timeout: float = 5.0) -> None:
    # Redirects are not followed: a vetted AWS host must not bounce us somewhere else (SSRF).
    response = requests.get(subscribe_url, timeout=timeout, allow_redirects=False)
    response.raise_for_status()
