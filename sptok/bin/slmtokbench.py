"""SLMTokBench command line: ``python -m sptok.bin.slmtokbench -h`` (see
:mod:`sptok.slmtokbench.bench`)."""
import sys

from sptok.slmtokbench.bench import main

if __name__ == "__main__":
    sys.exit(main())
