import sys
import time

import numpy as np
import pytest

from sptok.utils.memory import RssSampler, release_free_memory, rss_bytes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/statm")

MIB = 2 ** 20


def test_sampler_sees_a_peak_freed_before_the_block_ends():
    release_free_memory()
    base = rss_bytes()
    with RssSampler() as sampler:
        block = np.ones(200 * MIB, dtype=np.uint8)  # written, so every page is resident
        deadline = time.monotonic() + 20.0  # the sampling thread may wait for a busy CPU
        while sampler.peak - base < 180 * MIB and time.monotonic() < deadline:
            time.sleep(0.01)
        del block  # glibc unmaps a block this large at once: only the thread saw it
        after_free = rss_bytes()
    assert sampler.peak - base >= 180 * MIB
    assert sampler.peak - after_free >= 180 * MIB


def test_sampler_restarts_its_peak_on_each_block():
    sampler = RssSampler(interval=0.005)
    with sampler:
        block = np.ones(64 * MIB, dtype=np.uint8)  # alive on exit: counted without the thread
    with_block = sampler.peak
    del block
    release_free_memory()
    with sampler:
        pass
    assert with_block - sampler.peak >= 48 * MIB


def test_bad_interval_is_named():
    with pytest.raises(ValueError, match="interval"):
        RssSampler(interval=0)
