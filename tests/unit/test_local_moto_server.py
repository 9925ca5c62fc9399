"""The moto server of the local stack and the integration tests serialises DynamoDB requests.

Real DynamoDB applies a conditional write atomically per item; moto checks and writes in separate
steps, so racing threads can both win (seen in CI: two sweeps both took one held page). Every
"exactly once" in uptime-relay rests on that atomicity, so DynamoDB requests must never overlap
inside moto, while other services (SQS long polls) keep running concurrently.
"""

from __future__ import annotations

import threading
import time

from uptime_relay_tools.local.moto_server import _SerialisedDynamoDB


class SlowApp:
    """A WSGI app that records how many requests are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.02)  # a request that takes a while inside moto (not an assertion on time)
        with self.lock:
            self.inside -= 1
        start_response("200 OK", [])
        return [b"{}"]


def run_concurrently(app, target: str, n: int = 6) -> list[list[bytes]]:
    start = threading.Barrier(n)
    bodies: list[list[bytes]] = []

    def call() -> None:
        start.wait()
        bodies.append(list(app({"HTTP_X_AMZ_TARGET": target}, lambda *a: None)))

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bodies


def test_dynamodb_requests_never_overlap_inside_moto():
    inner = SlowApp()
    bodies = run_concurrently(_SerialisedDynamoDB(inner), "DynamoDB_20120810.UpdateItem")
    assert inner.most == 1
    assert bodies == [[b"{}"]] * 6  # every caller still gets its answer


def test_other_services_still_run_concurrently():
    inner = SlowApp()
    run_concurrently(_SerialisedDynamoDB(inner), "AmazonSQS.ReceiveMessage")
    assert inner.most > 1
