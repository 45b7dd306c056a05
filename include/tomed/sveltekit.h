/*
 * sveltekit — facts about a SvelteKit build read from its output. Pure.
 */
#ifndef TOMED_SVELTEKIT_H
#define TOMED_SVELTEKIT_H

#include <stddef.h>

/*
 * The base path a prerendered page was built for, from SvelteKit's inline
 * start-up script ("__sveltekit_x = { base: ..., assets: "/tomeclicker" }"):
 * an absolute `base: "..."` or `assets: "..."` string. Writes it (no trailing
 * slash) into out and returns 0; returns -1 when the page says nothing usable
 * (not SvelteKit, a root build, or a value that is not a plain absolute path).
 */
int sveltekit_detect_base(const char *html, size_t len, char *out, size_t cap);

#endif
