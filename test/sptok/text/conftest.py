"""Shared fixtures: one G2P per test session (loading the CMU dictionary takes about a second)."""
from __future__ import annotations

import pytest

from sptok.text.g2p import G2P


@pytest.fixture(scope="session")
def g2p() -> G2P:
    return G2P()
