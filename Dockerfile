# One image for every service, the gateway and the one-shot migration; compose.yaml picks the
# command. Default: the user service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (read from pyproject.toml), so a source change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"

# The project itself. config.yml and the migrations are read from /app at run time.
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
# Numeric, so that Kubernetes can tell it is not root (runAsNonRoot: deploy/helm).
USER 10001

CMD ["nameko", "run", "--config", "config.yml", "user_svc.service"]
