# syntax=docker/dockerfile:1
#
# A site image: tomed's image (deploy/Dockerfile) plus one layer, the site.
# A site update rebuilds only this layer; nodes already hold the tomed layers,
# so they pull a few hundred KiB, and tomed is never rebuilt for a site change.
#
# Build context: the SvelteKit app's directory, after `npm run build`;
# SITE_DIR is the build directory in it (adapter-static's `pages`: docs/ here,
# build/ by default in SvelteKit). TOMED_IMAGE is the published tomed image
# (.github/workflows/image.yml pushes ghcr.io/<owner>/tomed:<tag>; replace
# OWNER, or pass it). For the example site in this repository:
#
#   docker buildx build -f deploy/site.Dockerfile \
#       --platform linux/arm64,linux/arm/v7,linux/amd64 \
#       --build-arg TOMED_IMAGE=ghcr.io/OWNER/tomed:v0.1.0 --build-arg SITE_DIR=docs \
#       -t ghcr.io/OWNER/tomeclicker-site:$(git rev-parse --short HEAD) --push examples/site
#
# The site's compressible files get their brotli-11 and gzip-9 siblings here,
# at build time (`tomed precompress`, on every core of the build machine), so
# a Pi pod starts with every variant ready and compresses nothing. That stage
# runs tomed for the build platform ($BUILDPLATFORM, from the same multi-arch
# image): the siblings are the same bytes on every architecture, so the
# multi-arch build needs no emulation. A site built with SvelteKit's
# `precompress: true` already has them; up-to-date ones are skipped.

# The base path (SvelteKit `paths.base`, e.g. /tomeclicker) and everything else
# tomed needs to know comes from its config file, /etc/tomed/tomed.yaml, which
# Kubernetes mounts from a ConfigMap; do not bake TOMED_* variables in here:
# the environment overrides that file. One build serves under any base: tomed
# rewrites the build's base to its mount base at load (README: "One build, any base").
#
# Alternative without a site image: deploy/k8s/components/initcontainer.

ARG TOMED_IMAGE=ghcr.io/OWNER/tomed:v0.1.0

FROM --platform=$BUILDPLATFORM ${TOMED_IMAGE} AS precompress
ARG SITE_DIR=docs
COPY ${SITE_DIR}/ /srv/docs/
# This stage is thrown away: root here only writes the siblings beside the
# files COPY made root's (the image has no shell for a chown).
USER 0:0
RUN ["/tomed", "precompress", "/srv/docs"]

FROM ${TOMED_IMAGE}
# COPY makes the files root's (tomed, UID 65532, only reads them) and keeps
# their modes: files must be world-readable, as npm's build leaves them.
COPY --from=precompress /srv/docs/ /srv/docs/
