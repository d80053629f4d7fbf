# The router's container image: `docker build -t envoy-llm-router .` (docs/deploy.md).
# Two stages: `build` installs every dependency from the lock file, compiles, then drops the dev
# dependencies; `runtime` gets only the compiled code, the production dependencies and tini.
# scripts/image-stages.mjs runs these same instructions outside a container in CI (no container
# engine there), so keep to FROM, WORKDIR, COPY, RUN, ENV, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD.

# An exact Node release on Debian 12: the Node the suite runs (scripts/image-stages.mjs checks the major).
FROM node:22.23.5-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json buf.gen.yaml ./
COPY proto ./proto
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:22.23.5-bookworm-slim AS runtime
# tini as PID 1: it forwards SIGTERM/SIGHUP to the router (graceful drain, config reload) and
# reaps zombies; Node as PID 1 would get no default signal handling.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
# The V8 heap settings every start script uses (src/devstack/node-flags.ts; a unit test holds them
# equal). Size the container's memory limit above --max-old-space-size.
ENV NODE_ENV=production NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=1536"
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
# The operator console's page (served by the admin API at /console).
COPY console ./console
# The image's `node` user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# ext_proc gRPC, admin HTTP (server.grpc and server.admin of router.yaml).
EXPOSE 50051 9090
# The admin API's readiness on 127.0.0.1:9090 (open without a token): 503 while draining.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/main.js"]
CMD ["serve", "-c", "/etc/llm-router/router.yaml"]
