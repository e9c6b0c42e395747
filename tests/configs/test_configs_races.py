"""Saving and deleting one config at the same moment: each call wins or is told it lost (issue 15.11)."""
import threading

from tests.configs.conftest import GOOD


def test_concurrent_put_and_delete_of_one_config_never_answer_500(app, token, training):
    statuses = []

    def call(method, rounds=30):
        client = app.test_client()
        for number in range(rounds):
            body = GOOD + f"# {method} {number}\n"
            if method == "put":
                response = client.put("/v1/train-configs/race", data=body, headers={
                    **token["operator"], "Content-Type": "application/yaml"})
            else:
                response = client.delete("/v1/train-configs/race", headers=token["operator"])
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call, args=(method,)) for method in ("put", "delete")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 60
    assert all(status < 500 for status in statuses), sorted(statuses)
