"""The KV-cache benchmark (tools/bench/bench_uslm_kv_cache.py) runs its measurement."""
import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "tools" / "bench" / "bench_uslm_kv_cache.py"


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_uslm_kv_cache", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_measurement_per_mode(bench, tmp_path):
    argv = ["--d-model", "16", "--num-heads", "2", "--num-layers", "1", "--ffn-dim", "32",
            "--codebook-size", "8", "--num-phonemes", "5", "--text-length", "4",
            "--prompt-frames", "3", "--batch", "2", "--threads", "1"]
    args = bench.parse_args(argv)
    results = {}
    for mode in ("cached", "uncached"):
        path = tmp_path / f"{mode}.json"
        bench.measure(args, mode, 6, str(path))
        results[mode] = json.loads(path.read_text())
    assert results["cached"]["tokens"] == results["uncached"]["tokens"]
    assert [len(t) for t in results["cached"]["tokens"]] == [6, 6]  # EOS ignored
    assert results["cached"]["seconds"] > 0 and results["cached"]["peak_bytes"] >= 0
    assert "RSS" in results["cached"]["method"]
