"""GPU placement and port reservations in the database: one holder per GPU and per port, even in a race."""
import socket
import threading

from portal.extensions import db
from portal.supervisor import placement, ports

GPUS = [f"GPU-{i}" for i in range(4)]


def test_allocations_never_share_a_gpu_and_release_frees_them(app):
    with app.app_context():
        assert placement.allocate("run", 1, 2, GPUS) == ["GPU-0", "GPU-1"]
        db.session.commit()
        assert placement.allocate("deployment", "d1", 3, GPUS) is None  # only 2 free
        assert placement.allocate("deployment", "d1", 2, GPUS) == ["GPU-2", "GPU-3"]
        db.session.commit()
        assert placement.held()["GPU-2"] == ("deployment", "d1")
        placement.release("run", 1)
        db.session.commit()
        assert set(placement.held()) == {"GPU-2", "GPU-3"}


def test_two_holders_deciding_at_the_same_instant_cannot_both_get_a_gpu(app, monkeypatch):
    """Both read the same free GPUs before either writes; the unique key lets exactly one win."""
    barrier, results = threading.Barrier(2), {}
    original = placement.held

    def held_then_wait(host=None):
        seen = original(host)
        barrier.wait(10)  # both have seen every GPU free
        return seen

    def take(kind, holder):
        with app.app_context():
            got = placement.allocate(kind, holder, 2, GPUS[:2])
            db.session.commit()
            results[holder] = got

    monkeypatch.setattr(placement, "held", held_then_wait)  # a hook that makes the two meet
    threads = [threading.Thread(target=take, args=("run", "7")),
               threading.Thread(target=take, args=("deployment", "d9"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    monkeypatch.undo()
    assert sorted(results.values(), key=str) == [None, ["GPU-0", "GPU-1"]]
    with app.app_context():
        holders = {holder for _, holder in placement.held().values()}
        assert len(holders) == 1 and placement.held().keys() == {"GPU-0", "GPU-1"}


def test_a_scheduler_given_gpu_is_recorded_on_its_node(app):
    with app.app_context():
        assert placement.record("run", 3, ["GPU-a"], host="node7")
        db.session.commit()
        assert not placement.record("run", 4, ["GPU-a"], host="node7")
        assert placement.record("run", 4, ["GPU-a"], host="node8")
        db.session.commit()
        assert placement.held("node7") == {"GPU-a": ("run", "3")}


def test_ports_are_reserved_once_and_a_listening_port_is_skipped(app):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        with app.app_context():
            got = ports.reserve("deployment", "a", range(busy, busy + 50))
            assert got is not None and got != busy
            db.session.commit()
            again = ports.reserve("deployment", "b", range(got, got + 1))
            assert again is None
            ports.release("deployment", "a")
            db.session.commit()
            assert ports.reserve("deployment", "b", range(got, got + 1)) == got
            db.session.commit()
            assert ports.reserved()[got] == ("deployment", "b")
