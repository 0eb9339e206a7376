#!/usr/bin/env bash
# The test command of README: installs what is missing (tools/install.sh), then runs the suite.
# Extra arguments go to pytest, e.g. tools/test.sh -k data -x
set -euo pipefail
repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"${repo_dir}/tools/install.sh"
cd "${repo_dir}"
exec "${repo_dir}/tools/venv/bin/python" -m pytest test "$@"
