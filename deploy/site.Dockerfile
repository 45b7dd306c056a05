# syntax=docker/dockerfile:1
#
# A site image: tomed's image (deploy/Dockerfile) plus one layer, the site.
# A site update rebuilds only this layer; nodes already hold the tomed layers,
# so they pull a few hundred KiB, and tomed is never rebuilt for a site change.
#
# Build context: the SvelteKit app's directory, after `npm run build`
# (adapter-static writes docs/ there; use build/ if that is your `pages` dir).
# For the example site in this repository:
#
#   docker buildx build -f deploy/site.Dockerfile \
#       --platform linux/arm64,linux/arm/v7,linux/amd64 \
#       --build-arg TOMED_IMAGE=REGISTRY/tomed:0.1.0 \
#       -t REGISTRY/tomeclicker-site:$(git rev-parse --short HEAD) --push examples/site
#
# Nothing here is architecture-specific (COPY needs no shell or RUN), so the
# multi-arch build is quick and needs no emulation.
#
# The base path (SvelteKit `paths.base`, e.g. /tomeclicker) and everything else
# tomed needs to know comes from its config file, /etc/tomed/tomed.yaml, which
# Kubernetes mounts from a ConfigMap; do not bake TOMED_* variables in here:
# the environment overrides that file.
#
# Alternative without a site image: deploy/initcontainer.yaml.

ARG TOMED_IMAGE=tomed:latest
FROM ${TOMED_IMAGE}
# COPY makes the files root's (tomed, UID 65532, only reads them) and keeps
# their modes: files must be world-readable, as npm's build leaves them.
COPY docs/ /srv/docs/
