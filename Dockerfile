# Production image for Tango: Django behind gunicorn, static files served by whitenoise.
# The same image runs the web process, the Celery worker and Celery beat
# (see docker-compose.yml); nothing here is specific to one of them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    STATIC_ROOT=/app/var/staticfiles \
    MEDIA_ROOT=/app/var/media

# An unprivileged user owns only the writable state under /app/var; the code stays
# root-owned and read-only for the process that serves it.
RUN groupadd --system --gid 10001 tango \
    && useradd --system --uid 10001 --gid tango --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin tango

# Dependencies first, so this layer is rebuilt only when pyproject.toml changes.
# pyproject has `[tool.setuptools] packages = []`: installing the project installs its
# pinned dependencies and no code. Built outside /app so no build/ or *.egg-info is left.
# (README.md* is optional: pyproject names it, the build only warns when it is missing.)
COPY pyproject.toml README.md* /tmp/build/
RUN pip install --no-cache-dir /tmp/build && rm -rf /tmp/build

WORKDIR /app
COPY . /app

# collectstatic needs the production settings to import, and they refuse to start
# without a real SECRET_KEY and ALLOWED_HOSTS. These throwaway values exist only for
# this one RUN line; they are not in the image's environment and are never used to
# serve anything. The real ones come from the environment at run time.
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    SECRET_KEY="collectstatic-build-only-0123456789-abcdefghijklmnopqrstuvwxyz" \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media /app/var/run \
    && chown tango:tango /app/var /app/var/media /app/var/run

USER tango

ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    GUNICORN_WORKERS=3 \
    GUNICORN_TIMEOUT=60

EXPOSE 8000

# Shell form through `sh -c` so GUNICORN_WORKERS / GUNICORN_TIMEOUT are read at start;
# `exec` keeps gunicorn as PID 1 so it receives SIGTERM and shuts down gracefully.
# The control socket (for `gunicornc`) goes under the writable /app/var/run.
CMD ["sh", "-c", "exec gunicorn config.wsgi:application --bind 0.0.0.0:8000 --workers \"${GUNICORN_WORKERS:-3}\" --timeout \"${GUNICORN_TIMEOUT:-60}\" --graceful-timeout 30 --worker-tmp-dir /dev/shm --control-socket /app/var/run/gunicorn.ctl --access-logfile - --error-logfile -"]
