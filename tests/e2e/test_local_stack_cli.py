"""The README's local workflow: `uptime-relay incidents|dlq ... --stack uptime-relay-local
--endpoint-url http://127.0.0.1:PORT` against a running local stack.

moto's DescribeStacks returns no Outputs for the local stack (they are resolved in Python), so the
stack keeps them in the SSM parameter ``/uptime-relay/local/<stack>/outputs`` of its moto server and
the CLI's ``--stack`` lookup reads them from there, like any other process talking to that endpoint.
"""

from __future__ import annotations

import json
import os
import shlex

import pytest
from local_e2e import write_config
from uptime_relay_tools.cli import main
from uptime_relay_tools.local.faults import Faults, parse_fault

pytestmark = pytest.mark.e2e


def test_incidents_and_dlq_find_the_local_stack_by_name(
    tmp_path, target, receiver, local_stack, monkeypatch, capsys
):
    monkeypatch.delenv("UPTIME_STACK", raising=False)
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    # PagerDuty refuses the page (permanent): it lands on the notification dead-letter queue
    faults = Faults([parse_fault("pd-primary:400:30m")])
    stack = local_stack(config, outage=(1, 30), faults=faults, minutes=4)
    stack.run()
    (incident,) = stack.incidents(("open",))
    # another shell has none of the functions' variables: only the stack name and the endpoint
    for key in ("TABLE_NAME", "DLQ_URL"):
        os.environ.pop(key, None)  # the stack restores them when it stops
    cfn = stack.client("cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    assert not cfn.get("Outputs")  # why the lookup needs the stack's SSM copy
    where = ["--stack", stack.stack_name, "--endpoint-url", stack.endpoint, "--region", "us-east-1"]
    capsys.readouterr()

    # the command the console prints at start is the one that works
    (hint,) = stack.timeline.find("incidents: uptime-relay incidents list")
    printed = shlex.split(hint.split("incidents: uptime-relay ", 1)[1], comments=True)
    assert printed == ["incidents", "list", *where]
    assert main(printed) == 0
    captured = capsys.readouterr()
    assert incident.id in captured.out, captured.err

    assert main(["dlq", "list", *where]) == 0
    captured = capsys.readouterr()
    assert "channel=pd-primary" in captured.out and "1 record(s)" in captured.out, captured.err

    parameter = stack.client("ssm").get_parameter(Name=f"/uptime-relay/local/{stack.stack_name}/outputs")
    assert json.loads(parameter["Parameter"]["Value"]) == stack.stack.outputs

    # a stack that is not there is still one clear line, exit 2
    assert main(["incidents", "list", "--stack", "no-such-stack", *where[2:]]) == 2
    assert "stack no-such-stack" in capsys.readouterr().err
