/*
 * html — the few pieces of the HTML tokenizer that both the base-path
 * rewriter and the CSP scanner need to find where elements and comments end
 * as a browser does. Pure, bounded by n, safe on any bytes.
 */
#ifndef TOMED_HTML_H
#define TOMED_HTML_H

#include <stddef.h>

/* HTML's ASCII whitespace (CR included: browsers normalise it). */
int html_is_ws(unsigned char c);

int html_is_alpha(unsigned char c);

/* ASCII lower case; other bytes unchanged. */
unsigned char html_lower(unsigned char c);

/* Case-insensitive compare of len bytes of s with a lower-case word. */
int html_ci_eq(const char *s, const char *word, size_t len);

/* Is there an end tag </name> (name case-insensitive, then a blank, '/' or
 * '>') at i? name is lower-case, len its length. */
int html_end_tag_at(const char *s, size_t n, size_t i, const char *name, size_t len);

/* Where the raw text of <name> that starts at i ends: the '<' of its end tag,
 * or n. */
size_t html_rawtext_end(const char *s, size_t n, size_t i, const char *name);

/* Where the text of a <script> that starts at i ends, following the HTML
 * tokenizer's script data states: inside "<!--" a nested "<script>" makes
 * the next "</script>" part of the text ("double escaped"). */
size_t html_script_end(const char *s, size_t n, size_t i);

/* Just past the comment whose "<!--" ends at i: "-->", "--!>", or the
 * abrupt "<!-->" and "<!--->"; n if it never ends. */
size_t html_comment_end(const char *s, size_t n, size_t i);

#endif
