"""benchmarks/ is not an installed package: make it importable however pytest is started."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.append(ROOT)  # appended: the installed executor/orchestrator keep their precedence
