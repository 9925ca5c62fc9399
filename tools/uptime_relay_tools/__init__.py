"""uptime-relay's tools: everything that runs on a laptop or in CI, never in Lambda.

The command line (``cli``), the local stack (``local``), the test kit (``testing``), the cost
estimator (``cost``) and the incident report (``report``). They call the runtime package
``uptime_relay`` (what the Lambda layer ships); the runtime never imports this package.
"""
