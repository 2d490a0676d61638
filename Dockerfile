# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FENGHUO_VAR_DIR=/app/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 fenghuo

WORKDIR /app
COPY pyproject.toml README.md ./
COPY crisis crisis
COPY monitoring monitoring
COPY response response
COPY review review
COPY templates templates
COPY static static
COPY locale locale
COPY manage.py Procfile ./
# Editable, so BASE_DIR stays /app where templates/, static/ and locale/ live.
RUN pip install -e . \
    && DEBUG=0 SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 \
       python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var && chown -R fenghuo /app/var

USER fenghuo
EXPOSE 8000
CMD ["gunicorn", "crisis.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
