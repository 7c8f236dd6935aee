# Production image of the FHIR server: the package and its locked dependencies, nothing else.
#
# The embedded database (SecantusDB, GPL, the optional "embedded" extra) is NOT in this image:
# configure a MongoDB replica set with FHIR_MONGODB_URI. All configuration comes from FHIR_*
# environment variables (see the README's configuration table); no file in the image holds any.
#
#   docker build -t fhir-server .
#   docker run -e FHIR_MONGODB_URI='mongodb://db:27017/?replicaSet=rs0' -p 8080:8080 fhir-server

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: resolve the locked environment into a self-contained virtualenv -----------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/fhir-server/venv

# The same uv release ./dev bootstraps.
RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /src

# Dependencies first, so this layer is reused until uv.lock changes. No dev group, no extras.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself, installed as a regular (non-editable) package: /src is not needed later.
COPY README.md ./
COPY fhir_server ./fhir_server
COPY mappers ./mappers
COPY profiles ./profiles
RUN uv sync --frozen --no-dev --no-editable

# --- runtime: the virtualenv on a clean base, run as an unprivileged user -------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="fhir-server" \
      org.opencontainers.image.description="FHIR R4B server for clinics (FastAPI, MongoDB, SMART on FHIR)" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 fhir \
    && useradd --system --uid 10001 --gid fhir --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin fhir \
    && install -d -o fhir -g fhir -m 0750 /var/lib/fhir-server

COPY --from=build /opt/fhir-server/venv /opt/fhir-server/venv

ENV PATH=/opt/fhir-server/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FHIR_DATA_DIR=/var/lib/fhir-server

WORKDIR /var/lib/fhir-server
USER 10001:10001
EXPOSE 8080

# Liveness via the standard library: the slim base has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["fhir-server"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
