/*
 * mime — media types for the files a static web build contains.
 *
 * The table is small on purpose: a SvelteKit build holds HTML, JS, CSS, JSON,
 * images, fonts and the odd download, and every type here is one a browser
 * acts on. Anything else is application/octet-stream, which browsers will
 * not sniff into something executable when served with nosniff.
 *
 * Text types carry "; charset=utf-8" because the build emits UTF-8 and a
 * browser that guesses (windows-1252 for a .txt, say) garbles it. JavaScript
 * is "text/javascript", the one type the HTML standard now blesses.
 *
 * Lookups happen once per file at load time, so a linear scan is plenty.
 */
#include "tomed/mime.h"

#include <stddef.h>
#include <string.h>

#define UTF8 "; charset=utf-8"

struct mime_entry {
    const char *ext; /* lower case, without the dot */
    const char *type;
};

static const struct mime_entry mime_table[] = {
    /* documents and code */
    { "html", "text/html" UTF8 },
    { "htm", "text/html" UTF8 },
    { "js", "text/javascript" UTF8 },
    { "mjs", "text/javascript" UTF8 },
    { "cjs", "text/javascript" UTF8 },
    { "css", "text/css" UTF8 },
    { "json", "application/json" UTF8 },
    { "map", "application/json" UTF8 },
    { "jsonld", "application/ld+json" UTF8 },
    { "webmanifest", "application/manifest+json" UTF8 },
    { "wasm", "application/wasm" },
    { "xml", "application/xml" UTF8 },
    { "rss", "application/rss+xml" UTF8 },
    { "atom", "application/atom+xml" UTF8 },
    { "txt", "text/plain" UTF8 },
    { "md", "text/markdown" UTF8 },
    { "csv", "text/csv" UTF8 },
    { "ics", "text/calendar" UTF8 },
    { "vtt", "text/vtt" UTF8 },
    /* images */
    { "svg", "image/svg+xml" UTF8 },
    { "png", "image/png" },
    { "apng", "image/apng" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "ico", "image/x-icon" },
    { "bmp", "image/bmp" },
    /* fonts */
    { "woff2", "font/woff2" },
    { "woff", "font/woff" },
    { "ttf", "font/ttf" },
    { "otf", "font/otf" },
    /* downloads */
    { "pdf", "application/pdf" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "br", "application/x-brotli" },
    { "tar", "application/x-tar" },
    /* media */
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "oga", "audio/ogg" },
    { "opus", "audio/ogg" },
    { "wav", "audio/wav" },
    { "flac", "audio/flac" },
    { "m4a", "audio/mp4" },
};

#define MIME_DEFAULT "application/octet-stream"

/* Longer than any extension in the table: stops the comparison early. */
#define MIME_EXT_MAX 16

static unsigned char ascii_lower(unsigned char c)
{
    /* Not tolower(): that depends on the locale and is UB for negative chars. */
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Case-insensitive: s[0..n) equals the lower-case literal lit (entirely). */
static int equal_ci(const char *s, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || ascii_lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return 0;
    }
    return lit[n] == '\0';
}

static int prefix_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);

    return n >= k && equal_ci(s, k, lit);
}

static int suffix_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);

    return n >= k && equal_ci(s + n - k, k, lit);
}

const char *mime_for_path(const char *path)
{
    const char *name, *dot, *p;
    size_t i, n;

    if (!path) return MIME_DEFAULT;

    /* Only the last segment names the file: "/a.b/c" has no extension. */
    name = path;
    for (p = path; *p; p++)
        if (*p == '/') name = p + 1;
    dot = strrchr(name, '.');
    /* A leading dot marks a hidden file (".env"), not an extension. */
    if (!dot || dot == name) return MIME_DEFAULT;

    n = strlen(dot + 1);
    if (n == 0 || n > MIME_EXT_MAX) return MIME_DEFAULT;
    for (i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++) {
        if (equal_ci(dot + 1, n, mime_table[i].ext)) return mime_table[i].type;
    }
    return MIME_DEFAULT;
}

int mime_is_compressible(const char *mime)
{
    const char *slash;
    size_t n = 0;

    if (!mime) return 0;
    while (*mime == ' ' || *mime == '\t') mime++;
    /* Judge the essence "type/subtype", never its parameters. */
    while (mime[n] != '\0' && mime[n] != ';' && mime[n] != ' ' && mime[n] != '\t') n++;

    /* Need both halves of "type/subtype" before looking at either. */
    slash = memchr(mime, '/', n);
    if (!slash || slash == mime || slash == mime + n - 1) return 0;
    if (prefix_ci(mime, n, "text/")) return 1;
    /* Structured-syntax suffixes (RFC 6839): manifest+json, ld+json,
     * svg+xml, rss+xml are text whatever their top-level type. */
    if (suffix_ci(mime, n, "+json") || suffix_ci(mime, n, "+xml")) return 1;
    /* wasm is not text, but its bytecode shrinks by half or more. */
    return equal_ci(mime, n, "application/javascript") ||
           equal_ci(mime, n, "application/json") ||
           equal_ci(mime, n, "application/xml") ||
           equal_ci(mime, n, "application/wasm");
}
