"""`python -m codec.cli ...` runs the `codec` command."""

import sys

from codec.cli import main

sys.exit(main())
