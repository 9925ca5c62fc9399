"""make scan: checkov's report judged so that nothing unexplained passes."""

from __future__ import annotations

from uptime_relay_tools.iacscan import judge, render


def report(passed=28, failed=(), skipped=(), parsing_errors=0, resources=34):
    return {
        "check_type": "cloudformation",
        "results": {
            "failed_checks": [
                {"check_id": cid, "resource": res, "check_name": "Ensure something"} for cid, res in failed
            ],
            "skipped_checks": [
                {
                    "check_id": cid,
                    "resource": res,
                    "check_result": {"result": "SKIPPED", "suppress_comment": why},
                }
                for cid, res, why in skipped
            ],
        },
        "summary": {
            "passed": passed,
            "failed": len(failed),
            "skipped": len(skipped),
            "parsing_errors": parsing_errors,
            "resource_count": resources,
            "checkov_version": "3.3.30",
        },
    }


def test_passes_and_explained_skips_pass_and_print_their_reasons():
    v = judge(
        report(skipped=[("CKV_AWS_117", "AWS::Serverless::Function.ProbeFunction", "no VPC: NAT costs")])
    )
    assert v.ok
    text = render(v, "built.yaml")
    assert (
        text.splitlines()[0] == "checkov 3.3.30 on built.yaml: 28 passed, 0 failed, 1 skipped (34 resources)"
    )
    assert "  CKV_AWS_117 AWS::Serverless::Function.ProbeFunction: no VPC: NAT costs" in text


def test_a_new_finding_fails_the_scan():
    v = judge(report(failed=[("CKV_AWS_119", "AWS::DynamoDB::Table.Table")]))
    assert not v.ok
    assert "FAILED CKV_AWS_119 AWS::DynamoDB::Table.Table: Ensure something" in render(v, "t.yaml")


def test_a_skip_without_a_reason_fails_the_scan():
    v = judge(report(skipped=[("CKV_AWS_27", "AWS::SQS::Queue.Q", "No comment provided")]))
    assert v.problems == [
        "CKV_AWS_27 skipped on AWS::SQS::Queue.Q without a reason (add comment: to the skip)"
    ]


def test_a_template_checkov_cannot_read_fails_the_scan_though_checkov_exits_0():
    assert judge(report(passed=0, parsing_errors=1, resources=0)).problems == [
        "1 file(s) checkov could not parse"
    ]
    assert judge(report(passed=0, resources=0)).problems == ["no resources scanned (is the template there?)"]
    assert not judge([]).ok
