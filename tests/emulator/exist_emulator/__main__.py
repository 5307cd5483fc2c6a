"""python -m exist_emulator: the same as the exist-emulator command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
