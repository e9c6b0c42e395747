"""Each channel kind gets its platform's exact format and signature, in the channel's language."""
import sys
from email import message_from_bytes, policy

import pytest

from tests.notify.conftest import channel, deliveries
from tests.support import make_project, start
from tests.support import free_port

PY = sys.executable
FAIL = f"{PY} -c 'import sys; sys.exit(3)'"


def fail_a_run(app, client, token, tick_until) -> int:
    make_project(client, token["operator"], start_command=FAIL)
    run_id = start(client, token["operator"])["id"]
    tick_until(lambda: deliveries(app, "delivered"))
    return run_id


def test_dingtalk_markdown_signed_in_the_url(app, client, token, training, receivers, tick_until):
    robot = receivers("dingtalk", secret="SECding")
    channel(client, token["admin"], robot, secret="SECding", language="zh")
    fail_a_run(app, client, token, tick_until)
    [request] = robot.requests
    assert request["signature_ok"] is True and request["query"]["access_token"] == "abcdef123"
    assert len(request["query"]["timestamp"]) == 13  # milliseconds
    body = request["body"]
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == "训练任务 p1 #1 失败"
    assert "退出码" in body["markdown"]["text"] and "https://portal.example.com/ui/runs/1" in body["markdown"]["text"]


def test_feishu_text_signed_in_the_body(app, client, token, training, receivers, tick_until):
    bot = receivers("feishu", secret="fs-secret")
    channel(client, token["admin"], bot, secret="fs-secret", language="en")
    fail_a_run(app, client, token, tick_until)
    [request] = bot.requests
    body = request["body"]
    assert request["signature_ok"] is True and len(body["timestamp"]) == 10  # seconds
    assert body["msg_type"] == "text" and body["content"]["text"].startswith("Run p1 #1 failed\n")
    assert "Exit code: 3" in body["content"]["text"]


def test_wecom_markdown(app, client, token, training, receivers, tick_until):
    robot = receivers("wecom")
    channel(client, token["admin"], robot, language="zh")
    fail_a_run(app, client, token, tick_until)
    body = robot.requests[0]["body"]
    assert body["msgtype"] == "markdown" and list(body["markdown"]) == ["content"]
    assert body["markdown"]["content"].startswith("### 训练任务 p1 #1 失败")


@pytest.mark.parametrize("answer", [(200, {"errcode": 310000, "errmsg": "sign not match"}), (302, {})])
def test_a_robots_error_code_or_a_redirect_is_not_a_delivery(app, client, token, training, receivers, tick_until,
                                                            answer):
    robot = receivers("dingtalk", replies=[answer, (200, {"errcode": 0})])
    channel(client, token["admin"], robot)
    fail_a_run(app, client, token, tick_until)
    assert deliveries(app) == [("delivered", 2)] and len(robot.requests) == 2


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 Message accepted for delivery"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def app_config(app_config, request):
    if "smtp_server" not in request.fixturenames:
        return app_config
    port = request.getfixturevalue("smtp_server")[1]
    return {**app_config, "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{port}", "PORTAL_SMTP_FROM": "portal@example.com"}


def test_email_plain_and_html_over_smtp(app, client, token, training, smtp_server, tick_until):
    inbox, _port = smtp_server
    made = channel(client, token["admin"], kind="email", to=["ml-team@example.com"], language="zh")
    fail_a_run(app, client, token, tick_until)
    [(sender, recipients, content)] = inbox.messages
    assert sender == "portal@example.com" and recipients == ["ml-team@example.com"]
    mail = message_from_bytes(content, policy=policy.default)
    assert mail["Subject"] == "训练任务 p1 #1 失败" and mail["X-Portal-Event-Id"]
    assert "退出码: 3" in mail.get_body(("plain",)).get_content()
    assert "<h3>训练任务 p1 #1 失败</h3>" in mail.get_body(("html",)).get_content()
    [attempt] = client.get(f"/v1/notification-channels/{made['id']}/deliveries", headers=token["admin"]).get_json()
    assert attempt["status"] == 250 and "accepted" in attempt["reply"]
