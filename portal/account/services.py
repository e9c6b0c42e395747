"""Reading and changing a user's preferences; the only writer of `user_preferences`."""
import pytz

from portal.account.models import UserPreference
from portal.config import LOCALES
from portal.errors import Invalid
from portal.extensions import db
from portal.i18n import _l

_UNSET = object()


def timezones() -> list[str]:
    """The IANA zone names people pick from (pytz's common list, without deprecated aliases)."""
    return list(pytz.common_timezones)


def preference_for(user_id: int) -> UserPreference | None:
    return db.session.get(UserPreference, user_id)


def update(user_id: int, *, locale=_UNSET, timezone=_UNSET) -> UserPreference:
    """Set what is given; an empty value means "follow the browser / the server" again."""
    if locale is not _UNSET and locale and locale not in LOCALES:
        raise Invalid(_l("Unknown language %(locale)s.", locale=locale))
    if timezone is not _UNSET and timezone and timezone not in set(timezones()):
        raise Invalid(_l("Unknown time zone %(zone)s.", zone=timezone))
    row = preference_for(user_id) or UserPreference(user_id=user_id)
    if locale is not _UNSET:
        row.locale = locale or None
    if timezone is not _UNSET:
        row.timezone = timezone or None
    db.session.add(row)
    db.session.commit()
    return row
