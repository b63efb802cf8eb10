"""`python -m training.classification classify|sweep --figure3 ...`."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from training.classification.cli import main  # noqa: E402

sys.exit(main())
