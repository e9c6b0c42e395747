"""Admin pages for notification channels: list and add, change, test, see deliveries, delete."""
from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.access import requires
from portal.errors import PortalError
from portal.notify import services
from portal.notify.forms import EVENT_LABELS, KIND_LABELS, ChannelForm
from portal.rendering import render

bp = Blueprint("notify", __name__, url_prefix="/ui/admin/notifications")


def _page(template: str, form: ChannelForm, http_status: int = 200, **context):
    return render(template, form=form, kinds=KIND_LABELS, event_labels=EVENT_LABELS, masked=services.masked_url,
                  section="admin", http_status=http_status, **context)


@bp.route("/", methods=["GET", "POST"])
@requires("admin")
def index():
    form = ChannelForm()
    if form.validate_on_submit():
        try:
            channel = services.create_channel(created_by=current_user.id, **form.fields_for_service(editing=False))
            flash(_("Channel %(name)s added.", name=channel.name), "success")
            return redirect(url_for("notify.show", channel_id=channel.id))
        except PortalError as error:
            form.form_errors.append(error.message)
    channels = services.list_channels()
    return _page("notify/index.html", form, 400 if form.errors or form.form_errors else 200, channels=channels,
                 pending={c.id: services.pending_count(c.id) for c in channels})


@bp.route("/<int:channel_id>", methods=["GET", "POST"])
@requires("admin")
def show(channel_id: int):
    channel = services.get_channel(channel_id)
    form = ChannelForm()
    if form.validate_on_submit():
        try:
            services.update_channel(channel_id, **form.fields_for_service(editing=True))
            flash(_("Channel %(name)s saved.", name=channel.name), "success")
            return redirect(url_for("notify.show", channel_id=channel_id))
        except PortalError as error:
            form.form_errors.append(error.message)
    elif not form.is_submitted():
        form.fill(channel)
    return _page("notify/show.html", form, 400 if form.errors or form.form_errors else 200, channel=channel,
                 attempts=services.list_attempts(channel_id, limit=50), pending=services.pending_count(channel_id))


@bp.post("/<int:channel_id>/test")
@requires("admin")
def test(channel_id: int):
    channel = services.get_channel(channel_id)
    return render("notify/show.html", block="test_result", channel=channel, result=services.test_channel(channel_id))


@bp.post("/<int:channel_id>/delete")
@requires("admin")
def delete(channel_id: int):
    name = services.get_channel(channel_id).name
    services.delete_channel(channel_id)
    flash(_("Channel %(name)s deleted.", name=name), "info")
    return redirect(url_for("notify.index"))
