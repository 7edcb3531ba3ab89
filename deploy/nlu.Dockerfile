# The NLU image: Rasa 3.6 (Python 3.10) serving the model of this repository's nlu/ data.
#   docker build -f deploy/nlu.Dockerfile -t pds-12345/rasa .
# The model is trained at build time and baked in (see docs/scaling.md, "The NLU model"): it is a
# pure function of nlu/config.yml, nlu/data and nlu/jieba_dict, named by their hash (nlu-<hash>),
# so every replica serves the same model, starts in seconds and needs no shared volume.
ARG PYTHON_IMAGE=python:3.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/rasa
COPY nlu/requirements-rasa.txt /tmp/requirements-rasa.txt
RUN /opt/rasa/bin/pip install -r /tmp/requirements-rasa.txt
WORKDIR /app
COPY nlu nlu
# config.yml names the jieba dictionary relative to /app; the custom component is nlu.rasa_components.
ENV RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=/app RASA_CACHE_DIRECTORY=/tmp/rasa-cache
RUN name="$(/opt/rasa/bin/python -c 'from nlu.training import model_name; print(model_name())')" \
 && /opt/rasa/bin/rasa train nlu --config nlu/config.yml --nlu nlu/data --out /models \
      --fixed-model-name "$name" \
 && test -f "/models/$name.tar.gz"

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin rasa
COPY --from=build /opt/rasa /opt/rasa
COPY --from=build /app/nlu /app/nlu
COPY --from=build /models /models
ENV PATH=/opt/rasa/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/tmp \
    RASA_CACHE_DIRECTORY=/tmp/rasa-cache
USER 10001:10001
WORKDIR /app
EXPOSE 5005
# Only the gateway calls it: no CORS, no citizens' channels; the NLU HTTP API and the gateway's batch
# parse route (nlu/rasa_batch.py).
CMD ["rasa", "run", "--enable-api", "--credentials", "nlu/credentials.yml", "--model", "/models", "--interface", "0.0.0.0", "--port", "5005"]
