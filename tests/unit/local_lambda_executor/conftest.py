"""The executor package lives in LocalStack's venv; its LocalStack-free modules are tested from source."""

from __future__ import annotations

import sys
from pathlib import Path

EXECUTOR_SRC = Path(__file__).resolve().parents[3] / "scripts" / "local_lambda_executor"
if str(EXECUTOR_SRC) not in sys.path:
    sys.path.insert(0, str(EXECUTOR_SRC))
