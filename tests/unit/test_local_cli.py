"""`uptime-relay local` refuses bad input before starting anything."""

from __future__ import annotations

import pytest
from uptime_relay_tools.cli import main


def test_a_bad_fault_spec_exits_2_naming_it(capsys):
    assert main(["local", "--fault", "slack:often:3m"]) == 2
    assert "--fault 'slack:often:3m': status 'often' is not an HTTP status" in capsys.readouterr().err


def test_an_invalid_config_exits_2_with_its_errors(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("checks:\n  - name: Bad Name\n")
    assert main(["local", "--config", str(config), "--minutes", "1"]) == 2
    assert "configuration invalid" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--minute-seconds", "0"], ["--minutes", "-1"], ["--http-port", "70000"]])
def test_out_of_range_numbers_are_refused_by_the_parser(flags, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["local", *flags])
    assert exited.value.code == 2


def test_help_names_every_route_the_http_port_serves(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["local", "--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for route in ("POST /slack/actions", "GET+POST /ack/{token}", "POST /pagerduty", "POST /alertmanager"):
        assert route in help_text
