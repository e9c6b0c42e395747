"""What a notification says: a title and a few lines, in the channel's language.

Every format (chat markdown, plain text, e-mail) is made from one `Message`, so a run's
name, what happened, its duration, last losses, the reason and the link are written once.
Rendered in the supervisor's app context under `force_locale`, never in a request.
"""
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, gettext

from portal.i18n import duration, status_label, translated
from portal.notify.models import LANGUAGES, Channel, Event


@dataclass(frozen=True)
class Message:
    title: str
    lines: list[tuple[str, str]]  # (label, value)
    link: str  # "" without PORTAL_PUBLIC_URL
    link_label: str


def _title(kind: str, subject: str, rule: str) -> str:
    titles = {
        "run.started": gettext("Run %(run)s started", run=subject),
        "run.succeeded": gettext("Run %(run)s succeeded", run=subject),
        "run.failed": gettext("Run %(run)s failed", run=subject),
        "run.lost": gettext("Run %(run)s was lost", run=subject),
        "run.stopped": gettext("Run %(run)s was stopped", run=subject),
        "run.rule": gettext("Run %(run)s: %(rule)s", run=subject, rule=rule),
        "deployment.running": gettext("Deployment %(name)s is running", name=subject),
        "deployment.unhealthy": gettext("Deployment %(name)s is unhealthy", name=subject),
        "deployment.restarted": gettext("Deployment %(name)s is restarting", name=subject),
        "deployment.failed": gettext("Deployment %(name)s failed", name=subject),
    }
    return titles.get(kind, gettext("Test message from the LLM Training Portal"))


def rule_text(rule: dict | None) -> str:
    """A fired rule in words, with what was seen (`rule["seen"]`)."""
    if not rule:
        return ""
    seen = rule.get("seen") or {}
    metric = rule.get("metric") or gettext("a metric")
    if rule["kind"] == "nonfinite":
        return gettext("%(metric)s became NaN or infinite", metric=seen.get("metric") or metric)
    if rule["kind"] == "threshold":
        return gettext("%(metric)s is %(value)s at step %(step)s (rule: %(op)s %(limit)s after step %(after)s)",
                       metric=metric, value=_number(seen.get("value")), step=seen.get("step", "?"),
                       op=rule["op"], limit=_number(rule["value"]), after=rule.get("after_step", 0))
    if rule["kind"] == "stalled":
        return gettext("no new output for %(minutes)s minutes", minutes=rule["minutes"])
    if rule["kind"] == "idle_gpus":
        return gettext("all its GPUs stayed below %(percent)s%% for %(minutes)s minutes", percent=rule["percent"],
                       minutes=rule["minutes"])
    return rule["kind"]


def _number(value) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def link(path: str) -> tuple[str, str]:
    base = current_app.config["PORTAL"].public_url
    return (f"{base}{path}" if base else ""), gettext("Open in the portal")


def run_path(run_id: int) -> str:
    return current_app.url_map.bind("localhost").build("runs.show", {"run_id": run_id})


def deployment_path(deployment_id: str) -> str:
    return current_app.url_map.bind("localhost").build("deployments.show", {"deployment_id": deployment_id})


def compose(channel: Channel | None, event: Event | None) -> Message:
    """The message of `event` for `channel` (a test message when `event` is None)."""
    with force_locale(LANGUAGES.get(channel.language if channel else "en", "en")):
        if event is None:
            return Message(_title("test", "", ""), [(gettext("Channel"), channel.name if channel else "")],
                           *link(""))
        payload = event.payload or {}
        rule = rule_text(payload.get("rule"))
        if "run" in payload:
            return _run_message(event.kind, payload["run"], rule)
        return _deployment_message(event.kind, payload.get("deployment") or {})


def _reason(item: dict) -> str:
    return translated(item.get("reason_i18n")) if item.get("reason_i18n") else item.get("reason") or ""


def _run_message(kind: str, run: dict, rule: str) -> Message:
    subject = f"{run.get('project')} #{run.get('number')}"
    lines = [(gettext("Status"), status_label(run.get("status") or "")),
             (gettext("Duration"), duration(run.get("duration_seconds")))]
    last = run.get("last_metrics") or {}
    losses = {"loss": gettext("Loss"), "eval_loss": gettext("Eval loss")}
    lines += [(label, _number(last[key])) for key, label in losses.items() if key in last]
    if run.get("exit_code") is not None:
        lines.append((gettext("Exit code"), str(run["exit_code"])))
    reason = rule or _reason(run)
    if reason:
        lines.append((gettext("Reason"), reason))
    return Message(_title(kind, subject, rule), lines, *link(run_path(run["id"])))


def _deployment_message(kind: str, item: dict) -> Message:
    lines = [(gettext("Status"), status_label(item.get("status") or "")), (gettext("Model"), item.get("model") or "")]
    if item.get("restart_count"):
        lines.append((gettext("Restarts"), str(item["restart_count"])))
    if _reason(item):
        lines.append((gettext("Reason"), _reason(item)))
    return Message(_title(kind, item.get("name") or item.get("id", ""), ""), lines, *link(deployment_path(item["id"])))


def as_markdown(message: Message) -> str:
    body = "\n".join(f"- **{label}**: {value}" for label, value in message.lines)
    more = f"\n\n[{message.link_label}]({message.link})" if message.link else ""
    return f"### {message.title}\n\n{body}{more}"


def as_text(message: Message) -> str:
    body = "\n".join(f"{label}: {value}" for label, value in message.lines)
    return f"{message.title}\n{body}" + (f"\n{message.link}" if message.link else "")
