"""The transition functions write the outbox event in the state change's own transaction."""
from sqlalchemy import select

from portal.deployments.models import Deployment
from portal.deployments.transitions import transition
from portal.extensions import db
from portal.notify.models import Event


def kinds() -> list[str]:
    return [e.kind for e in db.session.scalars(select(Event).order_by(Event.occurred_at))]


def test_deployment_changes_write_their_events(app):
    with app.app_context():
        item = Deployment(model_path="models/q", model="/m/q", served_model_name="q", port=8201)
        db.session.add(item)
        db.session.commit()
        steps = [("starting", ("pending",), {}), ("running", ("starting",), {}), ("unhealthy", ("running",), {}),
                 ("running", ("unhealthy",), {}), ("pending", ("running",), {"restart_count": 1}),
                 ("starting", ("pending",), {}), ("failed", ("starting",), {})]
        for to, allowed, values in steps:
            assert transition(item, to, allowed, f"to {to}", **values)
            db.session.commit()
        assert kinds() == ["deployment.running", "deployment.unhealthy", "deployment.running", "deployment.restarted",
                           "deployment.failed"]
        last = db.session.scalars(select(Event).where(Event.kind == "deployment.failed")).one()
        assert last.payload["deployment"] | {"id": None} == {"id": None, "name": "q", "model": "models/q",
                                                              "status": "failed", "port": 8201, "restart_count": 1,
                                                              "reason": "to failed", "reason_i18n": None}


def test_a_rolled_back_state_change_leaves_no_event(app):
    with app.app_context():
        item = Deployment(model_path="models/q", model="/m/q", served_model_name="q")
        db.session.add(item)
        db.session.commit()
        assert transition(item, "failed", ("pending",), "gave up")
        db.session.rollback()
        assert kinds() == [] and db.session.get(Deployment, item.id).status == "pending"
        assert not transition(item, "running", ("starting",), "ready")  # a lost race writes nothing either
        db.session.commit()
        assert kinds() == []
