"""make package without an account: `sam package` into a moto S3 finds and uploads every artifact."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from uptime_relay_tools.deploycheck import LOCAL_BUCKET, SAR_KEY, package_locally, unpackaged
from uptime_relay_tools.local.cloudformation import load_template

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SAM = str(Path(sys.executable).with_name("sam"))  # the venv's SAM CLI


def test_sam_package_uploads_code_layers_license_and_readme(tmp_path):
    out = tmp_path / "packaged.yaml"
    assert package_locally(ROOT / "template.yaml", out, sam=SAM) == []
    packaged = load_template(out)
    app = packaged["Metadata"][SAR_KEY]
    assert app["LicenseUrl"].startswith(f"s3://{LOCAL_BUCKET}/")
    assert app["ReadmeUrl"].startswith(f"s3://{LOCAL_BUCKET}/")
    for lid in (
        "ProbeFunction",
        "RelayFunction",
        "EscalatorFunction",
        "ActionsFunction",
        "AlarmsReconcilerFunction",
    ):
        assert packaged["Resources"][lid]["Properties"]["CodeUri"].startswith(f"s3://{LOCAL_BUCKET}/")
    assert unpackaged(packaged) == []


def test_a_path_left_local_is_named():
    template = load_template(ROOT / "template.yaml")
    left = unpackaged(template)
    assert f"{SAR_KEY}.LicenseUrl: LICENSE" in left
    assert "ProbeFunction.CodeUri: functions/probe/" in left
    assert "SharedLayer.ContentUri: layers/shared/" in left
