"""Fixtures for notifications: receivers on local ports, a training dir, and a supervisor to tick."""
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.notify.models import Delivery
from tests.support import Receiver, ticking


@pytest.fixture
def app_config(app_config):
    # receivers listen on 127.0.0.1; retries come after 0.2 s instead of 30 s
    return {**app_config, "PORTAL_NOTIFY_ALLOW_PRIVATE": "on", "PORTAL_NOTIFY_RETRY_SECONDS": "0.2",
            "PORTAL_PUBLIC_URL": "https://portal.example.com"}


@pytest.fixture
def receivers():
    """Make receivers with `receivers(kind, secret=..., replies=...)`; all closed afterwards."""
    made = []

    def make(kind="webhook", **options):
        made.append(Receiver(kind, **options))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def tick_until(supervisor):
    """Tick the supervisor until `predicate()` is truthy (bounded, generous)."""
    return lambda predicate, timeout=60.0: ticking(supervisor, predicate, timeout)


def channel(client, headers, receiver=None, **fields):
    body = {"name": "team", "kind": receiver.kind if receiver else "webhook", "url": receiver.url if receiver else "",
            "events": ["run.failed"], **fields}
    response = client.post("/v1/notification-channels", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliveries(app, status=None):
    with app.app_context():
        query = select(Delivery.status, Delivery.attempts)
        return db.session.execute(query.where(Delivery.status == status) if status else query).all()
