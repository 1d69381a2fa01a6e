# xgate: one image for `xgate serve`, `xgate worker` and the bundled simulators.
# Multi-stage: the build stage has pip and the sources; the runtime stage only the virtualenv.
# docker build -t xgate:0.1.0 .

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md CHANGELOG.md ./
COPY gateway gateway
COPY plugins plugins
COPY examples examples
RUN python -m venv /opt/xgate \
 && /opt/xgate/bin/pip install . \
 && find /opt/xgate -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 xgate \
 && useradd --system --uid 10001 --gid xgate --home-dir /var/lib/xgate --create-home xgate
COPY --from=build /opt/xgate /opt/xgate
ENV PATH=/opt/xgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XGATE_CONFIG=/etc/xgate/xgate.toml
USER 10001:10001
WORKDIR /var/lib/xgate
EXPOSE 8080 9090
ENTRYPOINT ["xgate"]
CMD ["--log-format", "json", "serve", "--host", "0.0.0.0", "--port", "8080"]
