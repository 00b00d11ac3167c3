from common.migrate import run_env
from notify_svc.models import Base

run_env(Base.metadata)
