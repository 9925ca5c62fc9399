"""`uptime-relay check`: output shapes and exit codes, as the CLI contract states them."""

from __future__ import annotations

import json
import textwrap

import pytest
from probe_servers import Target, closed_port, http
from uptime_relay_tools.cli import main

CONTRACT_KEYS = [
    "check",
    "ok",
    "reason",
    "status_code",
    "latency_ms",
    "timings_ms",
    "cert_days_left",
    "error",
]


@pytest.fixture
def target():
    with Target(routes={"/ok": http(200, '{"status": "ok"}'), "/down": http(503, "down")}) as t:
        yield t


def write_config(tmp_path, body: str):
    path = tmp_path / "uptime.yaml"
    path.write_text(textwrap.dedent(body))
    return str(path)


@pytest.fixture
def config(tmp_path, target):
    return write_config(
        tmp_path,
        f"""
        checks:
          - name: api
            url: {target.url("/ok")}
            expect: {{json: {{status: ok}}}}
          - name: web
            url: {target.url("/down")}
            retries: 0
          - name: db
            tcp: 127.0.0.1:{target.port}
        """,
    )


def test_json_output_is_one_contract_object_per_check_per_line(config, capsys):
    code = main(["check", config, "--json"])
    lines = capsys.readouterr().out.splitlines()
    docs = [json.loads(line) for line in lines]
    assert code == 1
    assert [d["check"] for d in docs] == ["api", "web", "db"]
    for doc in docs:
        assert list(doc)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
        assert set(doc["timings_ms"]) == {"dns", "connect", "tls", "ttfb", "transfer", "total"}
    api, web, db = docs
    assert (api["ok"], api["reason"], api["status_code"], api["error"]) == (True, "ok", 200, None)
    assert (web["ok"], web["reason"], web["status_code"]) == (False, "status_mismatch", 503)
    assert web["error"] == "status 503, expected 2xx, 3xx"
    assert (db["ok"], db["status_code"], db["timings_ms"]["ttfb"]) == (True, None, None)


def test_selected_checks_that_pass_exit_0(config, capsys):
    code = main(["check", config, "--check", "api", "--check", "db", "--json", "--concurrency", "1"])
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [d["check"] for d in docs] == ["api", "db"]


def test_an_unknown_check_name_exits_2_naming_it(config, capsys):
    code = main(["check", config, "--check", "nope"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "no check named 'nope'" in captured.err
    assert "api, db, web" in captured.err


def test_an_invalid_config_exits_2_with_the_errors_on_stderr(tmp_path, capsys):
    path = write_config(
        tmp_path,
        """
        checks:
          - name: Bad_Name
            url: ftp://example.com/
        """,
    )
    code = main(["check", path])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "checks[0].name" in captured.err and "checks[0].url" in captured.err


def test_the_table_lists_every_check_aligned_with_the_failure_spelled_out(config, capsys):
    code = main(["check", config])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 1
    header = lines[0]
    assert header.split() == [
        "CHECK",
        "RESULT",
        "STATUS",
        "LATENCY",
        "DNS",
        "CONNECT",
        "TLS",
        "TTFB",
        "CERT",
        "DETAIL",
    ]
    rows = {line.split()[0]: line for line in lines[1:4]}
    assert set(rows) == {"api", "web", "db"}
    assert rows["web"].split()[1:3] == ["status_mismatch", "503"]
    assert "[expect] status 503, expected 2xx, 3xx" in rows["web"]
    assert rows["api"].split()[1:3] == ["ok", "200"]
    # aligned: every row's RESULT column starts where the header's does
    column = header.index("RESULT")
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines[1:4])
    assert lines[-1] == "3 checks, 2 ok, 1 failed"


def test_a_refused_connection_fails_the_run(tmp_path, capsys):
    path = write_config(
        tmp_path,
        f"""
        checks:
          - name: gone
            url: http://127.0.0.1:{closed_port()}/
        """,
    )
    assert main(["check", path, "--json"]) == 1
    (doc,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (doc["reason"], doc["phase"], doc["attempts"]) == ("connect_refused", "connect", 2)


def test_concurrency_must_be_positive(config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", config, "--concurrency", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
