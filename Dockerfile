FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini* ./
COPY archive archive
COPY access access
COPY retention retention
COPY portal portal
COPY alembic alembic
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/casevault casevault \
 && mkdir -p /var/lib/casevault && chown casevault /var/lib/casevault
USER casevault
ENV CASEVAULT_DATA_DIR=/var/lib/casevault
EXPOSE 8000
ENTRYPOINT ["casevault"]
# Serving never creates or migrates the database: run the image with `migrate` first (compose
# does, in its migrate service), and again after each upgrade.
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
