from common.migrate import run_env
from payment_svc.models import Base

run_env(Base.metadata)
