"""Imports every domain's tables, so Alembic and `create_all` see the whole schema."""
from portal.auth.models import ApiToken, User  # noqa: F401
from portal.account.models import UserPreference  # noqa: F401
from portal.supervisor.lease import Lease  # noqa: F401
from portal.supervisor.placement import GpuAllocation  # noqa: F401
from portal.supervisor.ports import PortReservation  # noqa: F401
from portal.projects.models import Project  # noqa: F401
from portal.runs.models import Artifact, Metric, Run, RunLog  # noqa: F401
from portal.deployments.models import Deployment, DeploymentEvent  # noqa: F401
from portal.deid.models import DeidJob, DeidPolicy  # noqa: F401
from portal.configs.models import TrainConfig, TrainConfigVersion  # noqa: F401
from portal.datasets.models import Dataset, DatasetFile  # noqa: F401
from portal.notify.models import Attempt, Channel, Delivery, Event, RuleState  # noqa: F401
