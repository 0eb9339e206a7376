import pytest

from sptok.corpus import batch
from sptok.corpus.batch import MANIFEST_NAME, SynthJob, synthesize_jobs
from sptok.corpus.synth import SynthesisError
from sptok.corpus.voices import default_speakers
from sptok.data.kaldi_dir import read_kv_file


def _jobs(wav_dir, prompts):
    speaker = next(s for s in default_speakers() if s.id == "esmal0")
    return [SynthJob(f"esmal0_{i:06d}", speaker, p, wav_dir / f"esmal0_{i:06d}.wav")
            for i, p in enumerate(prompts)]


@pytest.fixture
def counting(monkeypatch):
    calls = []
    real = batch.synthesize

    def synthesize(speaker, prompt, out_path, sample_rate=16000):
        calls.append(out_path.name)
        return real(speaker, prompt, out_path, sample_rate)

    monkeypatch.setattr(batch, "synthesize", synthesize)
    return calls


def test_resume_skips_finished_files_and_redoes_changed_ones(tmp_path, counting):
    prompts = ["One small test.", "Two small tests.", "Three small tests."]
    first = synthesize_jobs(_jobs(tmp_path, prompts), tmp_path, nj=2, progress=False)
    assert len(counting) == 3 and set(first) == {"esmal0_000000", "esmal0_000001", "esmal0_000002"}
    assert set(read_kv_file(tmp_path / MANIFEST_NAME)) == set(first)

    counting.clear()
    assert synthesize_jobs(_jobs(tmp_path, prompts), tmp_path, nj=2, progress=False) == first
    assert counting == []

    # another text for the same utterance id (another seed): that file is made again
    counting.clear()
    synthesize_jobs(_jobs(tmp_path, prompts[:2] + ["A different sentence."]), tmp_path,
                    progress=False)
    assert counting == ["esmal0_000002.wav"]

    # a file removed (or never finished) is made again
    counting.clear()
    (tmp_path / "esmal0_000000.wav").unlink()
    synthesize_jobs(_jobs(tmp_path, prompts[:2] + ["A different sentence."]), tmp_path,
                    progress=False)
    assert counting == ["esmal0_000000.wav"]


def test_failure_keeps_finished_files(tmp_path, monkeypatch):
    real = batch.synthesize

    def flaky(speaker, prompt, out_path, sample_rate=16000):
        if "fail" in prompt:
            raise SynthesisError(f"{out_path.name}: simulated failure")
        return real(speaker, prompt, out_path, sample_rate)

    monkeypatch.setattr(batch, "synthesize", flaky)
    with pytest.raises(SynthesisError, match="simulated"):
        synthesize_jobs(_jobs(tmp_path, ["Good one.", "This will fail."]), tmp_path, nj=1,
                        progress=False)
    assert (tmp_path / "esmal0_000000.wav").is_file()
    assert not (tmp_path / "esmal0_000001.wav").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="nj"):
        synthesize_jobs(_jobs(tmp_path, ["x."]), tmp_path, nj=0)
    with pytest.raises(ValueError, match="duplicate"):
        synthesize_jobs(_jobs(tmp_path, ["x."]) * 2, tmp_path)
