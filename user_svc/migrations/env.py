from common.migrate import run_env
from user_svc.models import Base

run_env(Base.metadata)
