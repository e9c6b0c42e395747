"""Languages: which one a request gets, that it sticks per user, dates in the reader's zone."""
from datetime import datetime, timezone

import pytest

from portal.config import ConfigError, load_settings
from tests.conftest import CSRF_META, PASSWORD

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def page(client, path, headers=None) -> str:
    return client.get(path, headers=headers or {}).get_data(as_text=True)


def switch(client, locale: str, path: str = "/login", headers=None):
    token = CSRF_META.search(page(client, path, headers)).group(1)
    return client.post("/ui/account/language", data={"locale": locale, "next": path, "csrf_token": token},
                       headers=headers or {})


def test_english_is_the_default(client, users):
    body = page(client, "/login")
    assert '<html lang="en"' in body and ">Sign in</button>" in body


def test_the_browser_language_picks_chinese(client, users):
    body = page(client, "/login", ZH)
    assert '<html lang="zh-CN"' in body and ">登录</button>" in body


@pytest.mark.parametrize("header", ["zh", "zh-TW,zh;q=0.8", "fr-FR,zh-CN;q=0.5"])
def test_any_chinese_in_accept_language_reads_zh_cn(client, users, header):
    assert '<html lang="zh-CN"' in page(client, "/login", {"Accept-Language": header})


def test_default_locale_setting_applies_when_the_browser_asks_for_none_we_have(app_config, users):
    from portal import create_app

    client = create_app({**app_config, "PORTAL_DEFAULT_LOCALE": "zh-CN"}).test_client()
    assert ">登录</button>" in page(client, "/login", {"Accept-Language": "fr"})
    assert ">Sign in</button>" in page(client, "/login", {"Accept-Language": "en-GB"})


def test_switching_on_the_sign_in_page_needs_no_account(client, users):
    response = switch(client, "zh_CN")
    assert response.status_code == 302 and response.location == "/login"
    assert ">登录</button>" in page(client, "/login")


def test_the_choice_sticks_to_the_user_across_sessions_and_browsers(app, auth, users):
    auth.login()
    switch(auth.client, "zh_CN", "/ui/projects/")
    assert "<h1>项目</h1>" in page(auth.client, "/ui/projects/", {"Accept-Language": "en"})
    other = app.test_client()  # another browser that asks for English
    token = CSRF_META.search(page(other, "/login")).group(1)
    other.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert "<h1>项目</h1>" in page(other, "/ui/projects/", {"Accept-Language": "en"})


def test_preferences_page_saves_language_and_time_zone(app, auth, users):
    auth.login()
    response = auth.post("/ui/account/", {"locale": "zh_CN", "timezone": "Asia/Shanghai"})
    assert response.status_code == 302
    body = page(auth.client, "/ui/account/")
    assert "偏好设置已保存。" in body and '<option selected value="Asia/Shanghai">' in body
    auth.post("/ui/account/", {"locale": "", "timezone": ""})  # back to the browser's and the server's
    assert "<h1>Language and time zone</h1>" in page(auth.client, "/ui/account/")


def test_unknown_language_or_zone_is_refused(auth, users):
    auth.login()
    assert auth.post("/ui/account/", {"locale": "xx", "timezone": ""}).status_code == 400
    assert auth.post("/ui/account/", {"locale": "", "timezone": "Mars/Olympus"}).status_code == 400
    response = auth.post("/ui/account/language", {"locale": "xx"}, headers={"Referer": "/ui/account/"})
    assert response.status_code == 302


def test_dates_follow_the_locale_and_the_users_time_zone(app, auth, users):
    from portal import i18n
    from portal.account import services

    with app.test_request_context("/", headers=ZH):
        moment = datetime(2026, 12, 1, 22, 5, tzinfo=timezone.utc)
        assert ">2026年12月1日 22:05</time>" in i18n.when(moment)
    with app.app_context():
        services.update(users["admin"], timezone="Asia/Shanghai")
    auth.login()
    with app.test_request_context("/"):
        from flask_login import login_user
        from portal.auth.models import User
        from portal.extensions import db

        login_user(db.session.get(User, users["admin"]))
        shown = i18n.when(datetime(2026, 12, 1, 22, 5, tzinfo=timezone.utc))
        # local time on the page, the UTC time as its tooltip (issue 15.27)
        assert shown == ('<time datetime="2026-12-01T22:05:00+00:00" title="2026-12-01 22:05:00 UTC">'
                         'Dec 2, 2026 06:05</time>')


def test_durations_and_statuses_are_in_the_readers_words(app):
    from portal import i18n

    with app.test_request_context("/", headers=ZH):
        assert i18n.duration(90061) == "1天 1小时 1分 1秒"
        assert i18n.status_label("running") == "运行中" and i18n.status_label("mystery") == "mystery"
        assert i18n.status_label("cancelled") == "已停止"  # a run the user stopped (issue 15.22)
    with app.test_request_context("/"):
        assert i18n.duration(61) == "1m 1s"
        assert i18n.status_label("cancelled") == "stopped"


def test_flash_and_domain_errors_are_translated_for_pages(auth, users, client):
    token = CSRF_META.search(page(client, "/login", ZH)).group(1)
    response = client.post("/login", data={"username": "admin", "password": "wrong-password", "csrf_token": token},
                           headers=ZH)
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)


def test_api_detail_is_english_unless_the_client_asks(client, token, users):
    for headers in ({}, {"Accept-Language": "en"}):
        detail = client.get("/v1/train-config", headers={**token["viewer"], **headers}).get_json()["detail"]
        assert detail.startswith("no training config is current")
    detail = client.get("/v1/train-config", headers={**token["viewer"], **ZH}).get_json()["detail"]
    assert detail.startswith("当前没有生效的训练配置")


def test_api_stays_english_for_a_user_who_chose_chinese(app, client, token, users):
    from portal.account import services

    with app.app_context():
        services.update(users["viewer"], locale="zh_CN")
    detail = client.get("/v1/train-config", headers=token["viewer"]).get_json()["detail"]
    assert detail.startswith("no training config is current")


def test_upload_script_gets_its_messages_in_the_page_language(app, auth, users):
    import html
    import json

    auth.login()
    with app.app_context():
        from portal.datasets import services

        dataset_id = services.create_dataset("zh-check").id
    switch(auth.client, "zh_CN", "/ui/projects/")
    body = page(auth.client, f"/ui/datasets/{dataset_id}")
    raw = body.split('data-messages="', 1)[1].split('"', 1)[0]
    messages = json.loads(html.unescape(raw))
    assert messages["cancel"] == "取消" and "{sent}" in messages["progress"]


@pytest.mark.parametrize("name, value", [("PORTAL_DEFAULT_LOCALE", "fr"), ("PORTAL_TIMEZONE", "Mars/Olympus")])
def test_invalid_language_settings_name_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError) as error:
        load_settings({"PORTAL_DATA_DIR": str(tmp_path), name: value})
    assert str(error.value).startswith(name)


def test_language_settings_defaults(tmp_path):
    settings = load_settings({"PORTAL_DATA_DIR": str(tmp_path), "TZ": "Asia/Shanghai"})
    assert settings.default_locale == "en" and settings.timezone == "Asia/Shanghai"
    assert load_settings({"PORTAL_DATA_DIR": str(tmp_path), "PORTAL_DEFAULT_LOCALE": "zh_cn"}).default_locale == "zh_CN"


def test_a_language_chosen_on_the_sign_in_page_becomes_the_users(app, client, users):
    switch(client, "zh_CN")
    token = CSRF_META.search(page(client, "/login")).group(1)
    client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
    other = app.test_client()
    token = CSRF_META.search(page(other, "/login")).group(1)
    other.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
    assert "<h1>项目</h1>" in page(other, "/ui/projects/", {"Accept-Language": "en"})


def test_stored_messages_are_translated_when_read(app):
    from portal.i18n import N_, translated

    stored = N_("Stopping %(run)s.", run="demo #3")  # what a row keeps
    with app.test_request_context("/", headers=ZH):
        assert translated(stored) == "正在停止 demo #3。" and translated("started (pid 7)") == "started (pid 7)"
    with app.test_request_context("/"):
        assert translated(stored) == "Stopping demo #3."


def test_notifications_speak_the_recipients_language(app, users):
    from portal.account import services
    from portal.i18n import gettext, speaking_to

    with app.app_context():
        services.update(users["operator"], locale="zh_CN")
        with speaking_to(users["operator"]):
            assert gettext("%(run)s queued.", run="demo #4") == "demo #4 已加入队列。"
        with speaking_to(users["viewer"]):  # chose nothing: the server's default
            assert gettext("%(run)s queued.", run="demo #4") == "demo #4 queued."


def test_error_pages_speak_the_readers_language(auth, client, users):
    missing = client.get("/ui/nowhere", headers=ZH)
    assert missing.status_code == 404 and "该地址不存在。" in missing.get_data(as_text=True)
    stale = client.post("/login", data={"username": "admin", "password": PASSWORD}, headers=ZH)  # no CSRF token
    assert stale.status_code == 400 and "表单已过期" in stale.get_data(as_text=True)


def test_json_on_pages_keeps_chinese_readable_and_escaped(app):
    with app.test_request_context("/"):
        html = app.jinja_env.from_string("<pre>{{ v|json_text(indent=1) }}</pre>").render(v={"output": "<你好>"})
    assert "你好" in html and "\\u4f60" not in html and "&lt;" in html


def test_answers_vary_on_accept_language(client, users):
    assert "Accept-Language" in client.get("/login").headers["Vary"]


def test_the_pages_own_api_calls_answer_in_the_pages_language(app, auth, users):
    auth.login()
    switch(auth.client, "zh_CN", "/ui/projects/")
    detail = auth.client.get("/v1/train-config", headers={"Accept-Language": "en"}).get_json()["detail"]
    assert detail.startswith("当前没有生效的训练配置")


def test_policy_problems_are_explained_in_the_readers_language(auth, users):
    auth.login()
    answer = auth.post("/ui/deid/check", {"yaml": "entities:\n  PHONE: {operator: nope}\n", "sample": "x"},
                       headers=ZH).get_data(as_text=True)
    assert "未知的处理方式 &#39;nope&#39;" in answer
