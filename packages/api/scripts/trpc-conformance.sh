#!/usr/bin/env bash
# tRPC's own WebSocket tests (v11.18.0) against tRPC's stock adapter and against our SocketProtocol.
#
#   packages/api/scripts/trpc-conformance.sh <trpc-checkout> [scratch-dir]
#
# <trpc-checkout> is a working tree of github.com/trpc/trpc at tag v11.18.0 (for example
# `git clone --depth 1 --branch v11.18.0 https://github.com/trpc/trpc`). Nothing of it enters this
# repository: the tests, tRPC's test helpers and tRPC's sources are copied into a scratch folder
# (a new temporary directory unless [scratch-dir] is given; reusing one skips the npm install), which
# gets its own node_modules with the test dependencies tRPC's lockfile pins at that tag.
#
# The run is twice the same: once as tRPC runs it, once with tRPC's test server handing its `wss` to
# scripts/trpc-conformance/socket-protocol-adapter.ts (our SocketProtocol). It prints the pass counts,
# the failing tests, and the tests that passed only on a retry, of each. Retries are tRPC's CI's (2);
# CONFORMANCE_RETRY=0 shows the tests that race their own server. Not part of CI: it needs the network (npm) and takes a minute or two.
# Needs `npm ci` in this repository first (our SocketProtocol imports its dependencies from here).
set -euo pipefail

usage() {
  echo "usage: $0 <trpc-checkout-at-v11.18.0> [scratch-dir]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage

expected_version="11.18.0"
tests=(websockets websockets.encoder websockets.memory smoke index)

checkout="$(cd "$1" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shim="$here/trpc-conformance/socket-protocol-adapter.ts"

version="$(node -p "require(process.argv[1]).version" "$checkout/packages/server/package.json" 2>/dev/null || true)"
if [[ "$version" != "$expected_version" ]]; then
  echo "expected a tRPC checkout at v$expected_version; $checkout/packages/server/package.json says '${version:-nothing}'" >&2
  [[ "${TRPC_CONFORMANCE_ANY_VERSION:-}" == "1" ]] || exit 1
fi
for name in "${tests[@]}"; do
  [[ -f "$checkout/packages/tests/server/$name.test.ts" ]] || {
    echo "missing packages/tests/server/$name.test.ts in $checkout" >&2
    exit 1
  }
done
[[ -d "$here/../../../node_modules" ]] || {
  echo "run npm ci in this repository first" >&2
  exit 1
}

scratch="${2:-$(mktemp -d "${TMPDIR:-/tmp}/trpc-conformance.XXXXXX")}"
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"
echo "scratch folder: $scratch"

# tRPC's sources (the tests import them through aliases, as tRPC's own vitest config does) and tests.
rm -rf "$scratch/trpc" "$scratch/tests"
mkdir -p "$scratch/trpc/packages/server" "$scratch/trpc/packages/client" "$scratch/tests"
cp -R "$checkout/packages/server/src" "$scratch/trpc/packages/server/"
cp -R "$checkout/packages/client/src" "$scratch/trpc/packages/client/"
for name in "${tests[@]}"; do cp "$checkout/packages/tests/server/$name.test.ts" "$scratch/tests/"; done
cp "$checkout/packages/tests/suppressActWarnings.ts" "$scratch/tests/"
cp "$here/trpc-conformance/vitest.config.ts" "$here/trpc-conformance/results-reporter.ts" "$scratch/"

# The versions tRPC's pnpm-lock.yaml resolves at v11.18.0 for these tests.
cat >"$scratch/package.json" <<'JSON'
{
  "name": "trpc-conformance-scratch",
  "private": true,
  "type": "module",
  "devDependencies": {
    "@testing-library/dom": "10.0.0",
    "@testing-library/react": "16.1.0",
    "event-source-polyfill": "1.0.31",
    "jsdom": "29.0.0",
    "node-fetch": "3.3.0",
    "react": "19.1.0",
    "react-dom": "19.1.0",
    "vitest": "4.0.18",
    "ws": "8.17.1",
    "zod": "4.2.1"
  }
}
JSON
if [[ ! -d "$scratch/node_modules/vitest" ]]; then
  echo "installing the test dependencies into the scratch folder…"
  (cd "$scratch" && npm install --no-audit --no-fund --loglevel=error >"$scratch/npm-install.log" 2>&1) || {
    cat "$scratch/npm-install.log" >&2
    exit 1
  }
fi

run() {
  local adapter="$1"
  echo "running tRPC's tests against the $adapter adapter…"
  rm -f "$scratch/results-$adapter.json"
  # Failing tests are the point of the run; the summary below reads the reporter's file.
  (cd "$scratch" && CONFORMANCE_ADAPTER="$adapter" CONFORMANCE_SHIM="$shim" \
    CONFORMANCE_RESULTS="$scratch/results-$adapter.json" MUTE_REACT_ACT_WARNINGS=1 \
    ./node_modules/.bin/vitest run --config vitest.config.ts \
    --reporter=default --reporter=./results-reporter.ts \
    >"$scratch/run-$adapter.log" 2>&1) || true
  [[ -f "$scratch/results-$adapter.json" ]] || {
    tail -50 "$scratch/run-$adapter.log" >&2
    echo "the $adapter run produced no results (log: $scratch/run-$adapter.log)" >&2
    exit 1
  }
}

run stock
run ours

node - "$scratch" <<'JS'
const { readFileSync } = require("node:fs");
const path = require("node:path");
const scratch = process.argv[2];
for (const adapter of ["stock", "ours"]) {
  const outcomes = JSON.parse(readFileSync(path.join(scratch, `results-${adapter}.json`), "utf8"));
  const ran = outcomes.filter((o) => o.state === "passed" || o.state === "failed");
  const passed = ran.filter((o) => o.state === "passed");
  const label = adapter === "stock" ? "applyWSSHandler (stock)" : "SocketProtocol (ours)";
  console.log(`\n${label}: ${passed.length}/${ran.length} passed, ${ran.length - passed.length} failed`);
  for (const o of ran) {
    if (o.state === "failed") console.log(`  FAILED  ${o.file} > ${o.name}`);
    else if (o.retries > 0) console.log(`  passed after ${o.retries} ${o.retries === 1 ? "retry" : "retries"}: ${o.file} > ${o.name}`);
  }
}
console.log(`\nlogs: ${path.join(scratch, "run-stock.log")}, ${path.join(scratch, "run-ours.log")}`);
JS
