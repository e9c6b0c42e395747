"""The GPU probe: fake GPUs, nvidia-smi CSV, and the API view of them."""
import shutil

import pytest

from portal.supervisor import gpus


def test_fake_gpus_are_keyed_by_uuid():
    found = gpus.probe((2, 80 * 1024**3))
    assert [g.uuid for g in found] == ["GPU-fake-0000", "GPU-fake-0001"]
    assert all(g.memory_total == 80 * 1024**3 and g.source == "fake" for g in found)


def test_nvidia_smi_csv_is_parsed():
    csv = ("0, GPU-5b1e6c1a-aaaa, NVIDIA A100-SXM4-80GB, 81920, 1024, 37\n"
           "1, GPU-77f0-bbbb, NVIDIA A100-SXM4-80GB, 81920, 0, [N/A]\n")
    parsed = gpus.parse_nvidia_smi(csv)
    assert parsed[0].uuid == "GPU-5b1e6c1a-aaaa" and parsed[0].memory_used == 1024 * 1024**2
    assert parsed[0].utilization == 37 and parsed[1].utilization is None


@pytest.mark.skipif(bool(shutil.which("nvidia-smi")), reason="this host has a GPU driver")
def test_host_without_gpus_reports_none():
    gpus._cache.update(at=0.0, key="reset")
    assert gpus.probe(None) == []


def test_api_lists_the_gpus(app_config, token):
    from portal import create_app
    from portal.extensions import db
    from portal.auth import services
    from portal.auth.models import User

    app = create_app({**app_config, "PORTAL_FAKE_GPUS": "1x24GiB"})
    with app.app_context():
        db.create_all()
        user = db.session.scalar(db.select(User).filter_by(username="viewer"))
        header = {"Authorization": "Bearer " + services.create_token(user)[1]}
    listed = app.test_client().get("/v1/gpus", headers=header).get_json()
    assert listed == [{"uuid": "GPU-fake-0000", "index": 0, "name": "Fake GPU", "memory_total": 24 * 1024**3,
                       "memory_used": 0, "utilization": 0, "source": "fake", "processes": [], "held_by": None}]
