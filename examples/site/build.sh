#!/usr/bin/env bash
# Rebuild the example site from a clean checkout into examples/site/docs/.
#
#   examples/site/build.sh
#
# Needs Node >= 20.19 (Vite 8) and npm with access to the npm registry.
# Output is deterministic: the generated assets come from a seeded PRNG, the
# dependency tree is pinned by package-lock.json, and kit.version.name is
# fixed in svelte.config.js, so rebuilding an unchanged tree gives identical
# files (same content hashes in _app/immutable/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

export NODE_ENV=production
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false

# devDependencies are what we need; NODE_ENV=production must not drop them.
npm ci --include=dev --no-audit --no-fund

# Regenerate the synthetic assets (favicon, hero image, data module).
npm run --silent gen

# Fresh build: adapter-static empties docs/ itself, but .svelte-kit/ can hold
# stale generated files from another checkout.
rm -rf .svelte-kit docs
npm run build

echo "built: $(find docs -type f | wc -l) files in $(pwd)/docs"
