/*
 * html — the parts of the HTML tokenizer that rewrite.c and csp.c share:
 * where raw text, scripts and comments end, as a browser decides it. One
 * copy, so the two can never disagree about where a <script> ends.
 */
#include <string.h>

#include "tomed/html.h"

int html_is_ws(unsigned char c)
{
    /* HTML's ASCII whitespace; CR included because browsers normalise it. */
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

int html_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

unsigned char html_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int html_ci_eq(const char *s, const char *word, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (html_lower((unsigned char)s[i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

int html_end_tag_at(const char *s, size_t n, size_t i, const char *name, size_t len)
{
    return n - i > len + 2 && s[i] == '<' && s[i + 1] == '/' && html_ci_eq(s + i + 2, name, len) &&
           (html_is_ws((unsigned char)s[i + 2 + len]) || s[i + 2 + len] == '/' ||
            s[i + 2 + len] == '>');
}

size_t html_rawtext_end(const char *s, size_t n, size_t i, const char *name)
{
    size_t len = strlen(name);
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            return n;
        i = (size_t)(lt - s);
        if (html_end_tag_at(s, n, i, name, len))
            return i;
        i++;
    }
    return n;
}

size_t html_script_end(const char *s, size_t n, size_t i)
{
    enum { DATA, ESC, ESC_D, ESC_DD, DESC, DESC_D, DESC_DD } st = DATA;
    while (i < n) {
        char ch = s[i];
        switch (st) {
        case DATA:
            if (ch == '<') {
                if (html_end_tag_at(s, n, i, "script", 6))
                    return i;
                if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                    st = ESC_DD;
                    i += 4;
                    continue;
                }
            }
            break;
        case ESC:
        case ESC_D:
        case ESC_DD:
            if (ch == '-') {
                st = st == ESC ? ESC_D : ESC_DD;
            } else if (ch == '<') {
                if (html_end_tag_at(s, n, i, "script", 6))
                    return i;
                st = ESC;
                if (n - i > 7 && html_ci_eq(s + i + 1, "script", 6) &&
                    (html_is_ws((unsigned char)s[i + 7]) || s[i + 7] == '/' || s[i + 7] == '>')) {
                    st = DESC;
                    i += 7;
                    continue;
                }
            } else if (ch == '>' && st == ESC_DD) {
                st = DATA;
            } else {
                st = ESC;
            }
            break;
        case DESC:
        case DESC_D:
        case DESC_DD:
            if (ch == '-') {
                st = st == DESC ? DESC_D : DESC_DD;
            } else if (ch == '<') {
                st = DESC;
                if (html_end_tag_at(s, n, i, "script", 6)) {
                    st = ESC;
                    i += 8;
                    continue;
                }
            } else if (ch == '>' && st == DESC_DD) {
                st = DATA;
            } else {
                st = DESC;
            }
            break;
        }
        i++;
    }
    return n;
}

size_t html_comment_end(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '>')
        return i + 1;
    if (n - i >= 2 && s[i] == '-' && s[i + 1] == '>')
        return i + 2;
    for (; i + 2 < n; i++) {
        if (s[i] != '-' || s[i + 1] != '-')
            continue;
        if (s[i + 2] == '>')
            return i + 3;
        if (i + 3 < n && s[i + 2] == '!' && s[i + 3] == '>')
            return i + 4;
    }
    return n;
}
