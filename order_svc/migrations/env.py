from common.migrate import run_env
from order_svc.models import Base

run_env(Base.metadata)
