"""Every change to users and tokens: the only writer of these tables."""
import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.auth.models import ROLES, ApiToken, User
from portal.auth.throttle import Throttle
from portal.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, found
from portal.extensions import db
from portal.i18n import _l
from portal.timeutil import as_utc, utcnow

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PASSWORD = 8
TOKEN_PREFIX = "ptk_"
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)  # last-used time need not cost a write per request
# compared against when the user does not exist, so a wrong name costs as much as a wrong password
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def has_users() -> bool:
    return db.session.scalar(select(func.count()).select_from(User)) > 0


def _check_new_user(username: str, password: str, role: str) -> None:
    if not USERNAME.match(username or ""):
        raise Invalid(_l("Username must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    if role not in ROLES:
        raise Invalid(_l("Role must be one of %(roles)s", roles=", ".join(ROLES)))
    check_password(password)
    if db.session.scalar(select(User).filter_by(username=username)):
        raise Conflict(_l("User %(name)s already exists", name=repr(username)))


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise Invalid(_l("Password must be at least %(count)s characters", count=MIN_PASSWORD), field="password")


def create_user(username: str, password: str, role: str) -> User:
    _check_new_user(username, password, role)
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    current_app.logger.info("user %s created with role %s", username, role)
    return user


def create_first_admin(username: str, password: str) -> User:
    """The first-start path: allowed only while no user exists. The setup page signs the new
    administrator in at once, so this counts as their first sign-in."""
    if has_users():
        raise Forbidden(_l("Setup is done: an administrator already exists"))
    user = create_user(username, password, "admin")
    user.last_login_at = utcnow()
    db.session.commit()
    return user


# the rows are re-read after each commit; SQLAlchemy need not replay these WHEREs in Python
_NO_SYNC = {"synchronize_session": False}


def _locked_out(seconds: float) -> Unauthorized:
    minutes = max(1, round(seconds / 60))
    return Unauthorized(_l("Too many failed sign-ins: try again in about %(minutes)s min", minutes=minutes))


def authenticate(username: str, password: str, address: str = "") -> User:
    """Check a sign-in; repeated failures lock the account (or the name, or the address) for a while."""
    settings = current_app.config["PORTAL"]
    addresses = _throttles()["addresses"]
    wait = addresses.reserve(address, settings.login_address_max_failures, settings.login_lockout_seconds)
    if wait is not None:
        raise _locked_out(wait)
    user = _check_password(username or "", password or "", settings)
    addresses.release(address)
    return user


def _throttles() -> dict[str, Throttle]:
    """This app's counters: failed sign-ins per client address (a success takes its own back),
    and sign-ins to names that have no account."""
    return current_app.extensions.setdefault("portal_sign_in_throttles",
                                             {"addresses": Throttle(), "unknown_names": Throttle()})


def _check_password(username: str, password: str, settings) -> User:
    window = settings.login_lockout_seconds
    user = db.session.scalar(select(User).filter_by(username=username))
    if user is None:
        # names nobody has lock like real ones, so the answer tells no one which names exist
        wait = _throttles()["unknown_names"].reserve(username, settings.login_max_failures, window)
        if wait is not None:
            raise _locked_out(wait)
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized(_l("Invalid username or password"))
    now = utcnow()
    # The attempt is counted before the password is checked, in one UPDATE: guesses sent at once
    # cannot all pass a check that reads the count first (at most login_max_failures get through).
    counted = db.session.execute(
        update(User).where(User.id == user.id, User.failed_logins < settings.login_max_failures,
                           or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=User.failed_logins + 1), execution_options=_NO_SYNC).rowcount
    db.session.commit()
    if not counted:
        locked_until = as_utc(user.locked_until)
        raise _locked_out((locked_until - now).total_seconds() if locked_until and locked_until > now else window)
    if not check_password_hash(user.password_hash, password):
        # the failure that reached the limit locks the account and starts the count again
        locked = db.session.execute(
            update(User).where(User.id == user.id, User.failed_logins >= settings.login_max_failures)
            .values(locked_until=now + timedelta(seconds=window), failed_logins=0),
            execution_options=_NO_SYNC).rowcount
        db.session.commit()
        if locked:
            current_app.logger.warning("user %s locked after repeated failed sign-ins", username)
        raise Unauthorized(_l("Invalid username or password"))
    if not user.active:
        raise Unauthorized(_l("This account is disabled"))
    db.session.execute(update(User).where(User.id == user.id)
                       .values(failed_logins=0, locked_until=None, last_login_at=now), execution_options=_NO_SYNC)
    db.session.commit()
    return user


def end_sessions(user: User) -> None:
    """Every session and remember-me cookie of `user` signed in so far stops working."""
    db.session.execute(update(User).where(User.id == user.id)
                       .values(session_generation=User.session_generation + 1), execution_options=_NO_SYNC)
    db.session.commit()


def get_user(user_id: int) -> User:
    return found(db.session.get(User, user_id), _l("User %(id)s not found", id=user_id))


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def _active_admins() -> int:
    return db.session.scalar(select(func.count()).select_from(User).filter_by(role="admin", active=True))


def update_user(user_id: int, *, role: str | None = None, active: bool | None = None,
                password: str | None = None, unlock: bool = False) -> User:
    """An admin's changes to a user; the last active admin cannot be demoted or disabled."""
    user = get_user(user_id)
    if role is not None and role not in ROLES:
        raise Invalid(_l("Role must be one of %(roles)s", roles=", ".join(ROLES)))
    losing_admin = user.role == "admin" and user.active and (
        (role is not None and role != "admin") or active is False)
    if losing_admin and _active_admins() <= 1:
        raise Conflict(_l("The last active administrator cannot be demoted or disabled"))
    if password is not None:
        check_password(password)
        user.password_hash = generate_password_hash(password)
        user.session_generation += 1  # whoever knew the old password is signed out
    if role is not None:
        user.role = role
    if active is not None:
        if user.active and not active:
            user.session_generation += 1
        user.active = active
    if unlock:
        user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, label: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`; the plain token is returned once and never stored."""
    label = (label or "").strip()
    if len(label) > 100:
        raise Invalid(_l("Label must be at most 100 characters"))
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, label=label, token_hash=_hash_token(plain), prefix=plain[:10])
    db.session.add(token)
    db.session.commit()
    current_app.logger.info("API token %s (%s) created for %s", token.id, token.prefix, user.username)
    return token, plain


def list_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.created_at.desc())))


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (admins may revoke anyone's)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and not user.can("admin")):
        raise NotFound(_l("Token %(id)s not found", id=token_id))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def user_for_token(plain: str) -> User | None:
    """The active user a presented token belongs to, or None."""
    token = db.session.scalar(select(ApiToken).filter_by(token_hash=_hash_token(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    last = as_utc(token.last_used_at)
    if last is None or now - last > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = now
        db.session.commit()
    return token.user
