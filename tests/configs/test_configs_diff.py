"""Two versions of a config side by side: only changed lines and their context, roles, bad versions."""
from portal.configs.diff import side_by_side
from tests.configs.conftest import put

BASE = "".join(f"key_{i}: {i}\n" for i in range(20))


def test_side_by_side_pairs_changes_and_folds_unchanged_stretches():
    new = BASE.replace("key_10: 10", "key_10: 99") + "added: yes\n"
    rows = side_by_side(BASE, new)
    changed = [r for r in rows if r.kind == "changed"]
    assert [(r.left_no, r.left, r.right_no, r.right) for r in changed] == [(11, "key_10: 10", 11, "key_10: 99")]
    assert [(r.right_no, r.right) for r in rows if r.kind == "added"] == [(21, "added: yes")]
    assert rows[0].kind == "fold" and "key_0: 0" not in [r.left for r in rows]  # far from any change
    assert side_by_side(BASE, BASE) == []


def test_the_diff_page_shows_two_versions(client, auth, users, token, training):
    put(client, token["operator"], "sft", BASE)
    put(client, token["operator"], "sft", BASE.replace("key_3: 3", "key_3: three"))
    auth.login("viewer")
    assert 'id="diff-versions"' in client.get("/ui/configs/sft").get_data(as_text=True)
    page = client.get("/ui/configs/sft/diff").get_data(as_text=True)  # the latest and the one before
    assert 'class="diff-changed"' in page and "key_3: three" in page and "key_3: 3" in page
    same = client.get("/ui/configs/sft/diff?a=2&b=2").get_data(as_text=True)
    assert 'id="versions-same"' in same
    assert client.get("/ui/configs/sft/diff?a=1&b=9").status_code == 404
    auth.logout()
    assert client.get("/ui/configs/sft/diff").status_code == 302  # to the sign-in page
