# One image for the four services and the simulated national population database; docker-compose.yml picks the service by its command.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY libs ./libs
COPY services ./services
COPY simulators ./simulators
RUN uv sync --frozen --no-dev --all-packages --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 lgsp && mkdir -p /data && chown lgsp /data
COPY --from=build /opt/venv /opt/venv
COPY contracts /app/contracts
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /app
USER lgsp
EXPOSE 8080
# Overridden per service in docker-compose.yml: lgsp-registry, ioc-collector, population-adapter.
CMD ["lgsp-gateway"]
