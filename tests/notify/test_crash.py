"""kill -9 of the supervisor after a run failed and before its delivery was recorded: the next one delivers it."""
import os
import signal
import sys

import pytest

from tests.notify.conftest import channel, deliveries
from tests.support import make_project, start
from tests.support import supervisor_process, wait_for

NOTIFY = {"PORTAL_NOTIFY_ALLOW_PRIVATE": "on", "PORTAL_NOTIFY_RETRY_SECONDS": "0.2"}


@pytest.mark.slow
def test_an_event_survives_a_kill_9_before_its_delivery(app, client, token, training, receivers, procs):
    hook = receivers(secret="s")
    hook.hold.clear()  # the first request arrives but gets no answer until the supervisor is dead
    channel(client, token["admin"], hook, secret="s")
    make_project(client, token["operator"], start_command=f"{sys.executable} -c 'import sys; sys.exit(2)'")
    run_id = start(client, token["operator"])["id"]
    procs.append(first := supervisor_process(app, **NOTIFY))
    wait_for(lambda: hook.requests, timeout=60)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    hook.hold.set()
    assert deliveries(app) == [("pending", 0)]  # the failure and its event are recorded; the delivery is not
    procs.append(supervisor_process(app, **NOTIFY))
    wait_for(lambda: deliveries(app, "delivered"), timeout=60)
    ids = {r["headers"]["X-Portal-Event-Id"] for r in hook.requests}
    assert len(hook.requests) >= 2 and len(ids) == 1  # the same event again, never zero times
    assert all(r["signature_ok"] for r in hook.requests)
    assert hook.requests[-1]["body"]["run"]["id"] == run_id and hook.requests[-1]["body"]["event"] == "run.failed"
