"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # one clear line naming the variable, not a traceback
    print(f"portal: invalid setting: {error}", file=sys.stderr)
    sys.exit(2)
