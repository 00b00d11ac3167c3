from common.migrate import run_env
from delivery_svc.models import Base

run_env(Base.metadata)
