"""Fixtures for the corpus tests: a PATH without one of the synthesisers."""
from __future__ import annotations

import shutil

import pytest

PROGRAMS = ("sox", "flite", "festival", "text2wave", "espeak-ng")


@pytest.fixture
def path_without(tmp_path):
    """Build a bin folder holding links to the synthesis programs except ``missing``; return it
    as a PATH value."""

    def make(*missing: str) -> str:
        bindir = tmp_path / ("bin_without_" + "_".join(missing))
        bindir.mkdir()
        for prog in PROGRAMS:
            found = shutil.which(prog)
            if prog not in missing and found:
                (bindir / prog).symlink_to(found)
        # text2wave is a festival script: it needs festival, and sh/env for its #! line
        for helper in ("sh", "env", "bash"):
            found = shutil.which(helper)
            if found:
                (bindir / helper).symlink_to(found)
        return str(bindir)

    return make
