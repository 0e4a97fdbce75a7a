import sys

from cspec.cli import main

sys.exit(main())
