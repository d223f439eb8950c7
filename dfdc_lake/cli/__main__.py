"""``python -m dfdc_lake.cli``: the same as ``dfdc-lake``."""

import sys

from dfdc_lake.cli.commands import main

sys.exit(main())
