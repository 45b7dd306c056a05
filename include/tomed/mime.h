/*
 * mime — file name to media type, for the types a static web build contains.
 * Pure and table-driven; text types carry "; charset=utf-8".
 */
#ifndef TOMED_MIME_H
#define TOMED_MIME_H

/* Media type for a file name (only its extension matters, case-insensitive).
 * Returns a static string; unknown extensions give "application/octet-stream". */
const char *mime_for_path(const char *path);

/* Nonzero when the type is worth compressing (text, JS, JSON, SVG, XML, wasm,
 * manifest); zero for images, fonts, archives and unknown types. */
int mime_is_compressible(const char *mime);

#endif
