"""python3 -m vmnet_broker status|networks|acquire (see vmnet_broker.cli)."""
import sys

from .cli import main

sys.exit(main())
