"""Fixtures for runs: a ticker that moves the supervisor until a run has a wanted status."""
import pytest

from tests.support import Ticker, require


def run_ticker(supervisor, client, headers) -> Ticker:
    """Ticks `supervisor` until a run (by id) has a wanted status."""
    return Ticker(supervisor, client, headers, "/v1/runs/{}")


@pytest.fixture
def ticker(supervisor, client, token):
    return run_ticker(supervisor, client, token["operator"])


@pytest.fixture
def container():
    """The training container `scripts/services` starts (skips, or fails in CI, without Docker)."""
    return require("docker")
