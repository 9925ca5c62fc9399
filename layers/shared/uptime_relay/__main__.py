"""``python -m uptime_relay``: the same command line as the ``uptime-relay`` console script.

The command line lives in the tools package (``uptime_relay_tools``), which the Lambda layer does
not ship; no function imports this module, so it is the one place in the layer that may name it.
"""

from uptime_relay_tools.cli import main

raise SystemExit(main())
