from common.migrate import run_env
from inventory_svc.models import Base

run_env(Base.metadata)
