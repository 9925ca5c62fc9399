"""moto's ThreadedMotoServer with DynamoDB's write atomicity.

Real DynamoDB evaluates a ConditionExpression and applies the write atomically per item; moto's
threaded server checks and writes in separate steps, so two threads racing the same conditional
write can both win. Everything in uptime-relay that must happen once (an incident opened, an
escalation step claimed, a held page taken) rests on that atomicity, so the local stack and the
integration tests run moto with DynamoDB requests serialised: one at a time, as the per-item
guarantee needs. Other services (SQS long polls, SNS, ...) still run concurrently.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class _SerialisedDynamoDB:
    def __init__(self, app: Any):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            # materialise the response inside the lock: the write happens while it is produced
            return list(self.app(environ, start_response))


class AtomicMotoServer(ThreadedMotoServer):
    """``ThreadedMotoServer`` whose DynamoDB conditional writes are atomic, as in AWS."""

    def _server_entry(self) -> None:
        app = _SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
