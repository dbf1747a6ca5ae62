# Build stage: the casevault wheel and the wheels of everything it depends on. Nothing of the
# source tree reaches the final image but that wheel (templates, static files, catalogues and
# migrations are inside it).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY archive archive
COPY access access
COPY retention retention
COPY portal portal
COPY alembic alembic
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
# Installed from the build stage's wheels only, never editable and never from the network.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels casevault \
 && useradd --system --home /var/lib/casevault casevault \
 && mkdir -p /var/lib/casevault && chown casevault /var/lib/casevault
USER casevault
WORKDIR /var/lib/casevault
ENV CASEVAULT_DATA_DIR=/var/lib/casevault
EXPOSE 8000
ENTRYPOINT ["casevault"]
# Serving never creates or migrates the database: run the image with `migrate` first (compose
# does, in its migrate service), and again after each upgrade.
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
