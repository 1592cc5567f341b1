# The hosted app (README, "Running it in containers"). Code is owned by root and read-only for
# the app's user; only the audit log's folder is writable.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

RUN useradd --system --uid 10001 --create-home --home-dir /home/oligomet oligomet \
    && mkdir -p /var/log/oligomet && chown oligomet /var/log/oligomet

COPY .streamlit/config.toml .streamlit/config.toml
COPY app.py ./
COPY cohort cohort
COPY ui ui
COPY pages pages
COPY data data

USER oligomet
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true"]
