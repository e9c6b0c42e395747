"""gunicorn settings from the portal's settings; embeds the supervisor in each worker.

Every worker starts a supervisor thread when PORTAL_EMBEDDED_SUPERVISOR is on; the database
lease lets exactly one of them act, and another takes over when its worker dies.
"""
import sys

from portal.config import ConfigError, load_settings

try:
    _settings = load_settings()
except ConfigError as error:
    print(f"portal: invalid setting: {error}", file=sys.stderr)
    sys.exit(2)

bind = [_settings.bind]
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
timeout = 120  # uploads and long polls must not be killed as "hung"
graceful_timeout = 20
accesslog = "-"
# no query strings in the access log: tokens and secrets must never reach a log file
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'
wsgi_app = "wsgi:app"


def post_worker_init(worker):
    from portal.deid.services import start_warm_up

    start_warm_up(worker.wsgi)  # jieba for the policies that find names, before a call needs it
    if not _settings.embedded_supervisor:
        return
    from portal.supervisor import Supervisor

    worker.portal_supervisor = Supervisor(worker.wsgi)
    worker.portal_supervisor.start_in_thread()


def worker_exit(server, worker):
    supervisor = getattr(worker, "portal_supervisor", None)
    if supervisor is not None:
        supervisor.stop()
