# The router's container image: `docker build -t envoy-llm-router .` (docs/deploy.md).
# Two stages: `build` installs every dependency from the lock file, compiles, then drops the dev
# dependencies; `runtime` gets only the compiled code, the production dependencies, Bun and tini.
# scripts/image-stages.mjs runs these same instructions outside a container in CI (no container
# engine there), so keep to FROM, WORKDIR, COPY, RUN, ENV, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD,
# and let RUN lines other than apt-get's name no absolute path (there they act on the host's).

# An exact Node release on Debian 12: the Node the suite runs (scripts/image-stages.mjs checks the
# major). Node stays in the runtime stage too: `node dist/main.js` is the fallback runtime.
FROM node:22.23.5-bookworm-slim AS build
# Bun, the router's runtime: the release scripts/setup.mjs pins (scripts/image-stages.mjs checks the
# copied binary's version), from the npm registry like the rest of the build, so the build reaches no
# other host; npm checks the tarball against the registry's integrity hash. The first of its own
# layers, so a change to the code does not fetch it again.
WORKDIR /opt/bun
RUN arch="$(dpkg --print-architecture)" \
  && case "$arch" in amd64) pkg=@oven/bun-linux-x64 ;; arm64) pkg=@oven/bun-linux-aarch64 ;; \
       *) echo "no Bun build on the npm registry for $arch" >&2; exit 1 ;; esac \
  && npm pack --silent "$pkg@1.4.5" >/dev/null \
  && tar xzf oven-bun-linux-*.tgz && rm oven-bun-linux-*.tgz \
  && ./package/bin/bun --version
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
# reaps zombies; the runtime as PID 1 would get no default signal handling.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/bun/package/bin/bun /usr/local/bin/bun
# The memory settings every start script uses (src/devstack/runtime.ts; a unit test holds them
# equal). Bun's: JavaScriptCore sizes its collector from the RAM it is told (bytes; here the chart's
# default memory limit, 2 GiB) instead of the host's; that bounds growth, not the heap, since Bun
# takes no heap limit. Node's, for `node dist/main.js`: the V8 heap settings. Size the container's
# memory limit to match, with room for bursts of large bodies.
ENV NODE_ENV=production BUN_JSC_forceRAMSize=2147483648 NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=1536"
# Bun caches transpiled modules under $HOME/.bun: in a container the cache never outlives the
# process, and with a read-only root filesystem (the chart's, compose's) every write fails. Off.
ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=0
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
# The admin API's readiness on 127.0.0.1:9090 (open without a token): 503 while draining. On Node,
# not Bun: the probe then works whichever runtime the entrypoint is switched to, on a CPU Bun's x64
# build cannot start on (no AVX2) too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "bun", "dist/main.js"]
CMD ["serve", "-c", "/etc/llm-router/router.yaml"]
