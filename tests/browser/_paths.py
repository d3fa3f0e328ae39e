"""Where the browser tests read the course from and write their failure artefacts."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The course folders are read from here; NNKIT_BROWSER_SOURCE points the suite at another checkout.
SOURCE = Path(os.environ.get("NNKIT_BROWSER_SOURCE", REPO))
ARTIFACTS = REPO / "test-artifacts" / "browser"
