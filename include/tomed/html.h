/*
 * html — one walk over an HTML (or XML) document that finds tags, their
 * attributes and the text of script, style and other raw-text elements at
 * exact byte offsets, deciding every boundary as a browser's HTML parser does.
 * csp.c (which inline scripts and styles need hashes) and rewrite.c (which
 * bytes are URLs, JS or CSS) both walk with it, so they can never disagree
 * about what is a script. Pure, bounded by n, safe on any bytes (fuzzed by
 * tests/fuzz/fuzz_html_diff.c and the csp/rewrite targets).
 *
 * WHAT IT FOLLOWS (WHATWG HTML, "tokenization", and the tree-construction
 * rules that switch the tokenizer's state):
 *   - tags: case-insensitive names; attributes with double-, single- or
 *     un-quoted values ('>' inside quotes does not end a tag; an unquoted
 *     value runs to a blank or '>', so type=module/ is "module/"); a tag cut
 *     off by the end of the input is dropped; "</" + non-letter is a bogus
 *     comment; "<" + non-letter is text.
 *   - comments "<!-- -->", "--!>", the abrupt "<!-->" and "<!--->"; "<!...>"
 *     and "<?...>" bogus comments (DOCTYPE included); "<![CDATA[ ]]>" only in
 *     SVG/MathML content (elsewhere in HTML it is a bogus comment up to '>').
 *   - raw text: <script> (script data with its "<!--" escape and "<script>"
 *     double-escape states), <style>, <xmp>, <iframe>, <noembed>,
 *     <noframes>, <noscript> (scripting enabled) and the RCDATA <title> and
 *     <textarea>; each ends at "</name" + a blank, '/' or '>' in any case
 *     ("</script >", "</SCRIPT>"), and the end tag itself may carry quoted
 *     attributes. <plaintext> runs to the end.
 *   - foreign content: inside <svg> or <math> the tokenizer stays in its data
 *     state: <title>, <textarea>, <noscript>... are plain elements, an SVG
 *     <script> or <style> has text that may hold markup and character
 *     references, a self-closing "<script/>" is empty, and CDATA sections
 *     exist. HTML integration points (svg foreignObject, desc, title; math
 *     annotation-xml with an HTML encoding) and MathML text integration
 *     points (mi, mo, mn, ms, mtext) bring HTML rules back, and the
 *     "breakout" start tags (<p>, <div>, <b>, <font color>...) and </p>,
 *     </br> leave foreign content. The stack of open foreign elements is
 *     modelled; end tags pop to the nearest open element of that name.
 *     Beyond HTML_WALK_MAX_DEPTH open foreign elements, deeper ones are
 *     counted, not named: an end tag there closes the innermost one.
 *   - <template> content is walked like any other: its scripts do not run
 *     where they stand, but run when the template is stamped into the
 *     document, so a CSP must still allow them.
 * Not modelled (tomed's inputs are build output, where none occurs): the
 * tree builder's other insertion modes (frameset, end tags of HTML ancestors
 * closing an open <svg>); character references in attribute values (type=
 * and language= are read as written: type="&#109;odule" is no module here);
 * the document inside <iframe srcdoc="..."> (it inherits the page's policy,
 * but its scripts are not walked).
 *
 * In XML mode (HTML_WALK_XML: .svg, .xml files) there is no tree model:
 * "<x/>" is empty, CDATA sections are skipped, "<?target ...?>" is a PI token
 * with pseudo-attributes, and only <script> and <style> have raw text.
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

/* ---------------------------------------------------------------- the walk */

typedef enum html_ns { HTML_NS_HTML = 0, HTML_NS_SVG, HTML_NS_MATHML } html_ns;

typedef enum html_tok_type {
    HTML_TOK_START = 1, /* a start tag ended by '>' */
    HTML_TOK_END,       /* an end tag outside raw text (raw text's own end tag is not a token) */
    HTML_TOK_PI,        /* XML mode only: <?target pseudo="attributes"?> */
} html_tok_type;

/* What a start tag's text is. */
typedef enum html_text_kind {
    HTML_TEXT_NONE = 0, /* markup follows (the walk goes on inside the element) */
    HTML_TEXT_SCRIPT,   /* an HTML or SVG <script> */
    HTML_TEXT_STYLE,    /* an HTML or SVG <style> */
    HTML_TEXT_RAW,      /* title, textarea, xmp, iframe, noembed, noframes, plaintext: prose */
    HTML_TEXT_NOSCRIPT, /* <noscript>: raw text with scripting on, markup for clients without */
} html_text_kind;

typedef struct html_tok {
    html_tok_type type;
    html_ns ns;                /* the element's namespace (HTML in XML mode) */
    size_t start;              /* the '<' */
    size_t name, name_len;     /* the tag name as written (compare case-insensitively) */
    size_t attrs;              /* where the attributes begin: html_attr_next's cursor */
    size_t end;                /* just past the tag's '>' */
    int self_closing;          /* written "/>" (only meaningful for SVG/MathML and XML) */
    html_text_kind text_kind;  /* start tags only */
    size_t text, text_len;     /* the element's raw text: [text, text + text_len) */
    int text_end_tag;          /* the text is ended by the element's own end tag (not by the
                                * end of the input, nor, for SVG, by other markup) */
    int text_exact;            /* the bytes are the element's text as the DOM will hold it
                                * (after CR/NUL normalisation): always for HTML raw text;
                                * for an SVG <script>/<style>, only when no markup and no
                                * character reference is inside */
    int text_pieces;           /* an SVG <script>/<style> ended by its end tag whose text
                                * holds CDATA sections or comments and nothing else (no
                                * reference): its DOM text is the concatenation of
                                * html_text_piece()'s pieces */
} html_tok;

typedef struct html_open {
    size_t name, name_len;
    unsigned char ns, hip, mtip, axml; /* namespace, HTML / MathML text integration point,
                                        * annotation-xml */
} html_open;

/* Open elements recorded from the outermost <svg>/<math> on. Deeper ones are
 * only counted (html_walk.deep): looking up an end tag's element then costs
 * at most this many steps, so a hostile page of 100,000 nested <g> and as
 * many unmatched end tags stays linear (it took 30 s for 700 KB without). */
#define HTML_WALK_MAX_DEPTH 256

typedef struct html_walk {
    const char *s;
    size_t n, pos;
    unsigned flags;
    html_open open[HTML_WALK_MAX_DEPTH];
    size_t nopen;
    size_t deep; /* elements open beyond HTML_WALK_MAX_DEPTH, not recorded */
} html_walk;

#define HTML_WALK_XML 1u      /* an XML document: see above */
#define HTML_WALK_NOSCRIPT 2u /* scripting disabled: <noscript> is a plain element */

/* Walk s[start, n). Allocates nothing. */
void html_walk_init(html_walk *w, const char *s, size_t n, size_t start, unsigned flags);

/* The next token: 1 and *t filled, 0 at the end (-1 is reserved for
 * failures; the walk has none today). After a start tag with raw text the
 * walk resumes past its end tag. Linear in n. */
int html_walk_next(html_walk *w, html_tok *t);

/* Nothing to release today; kept so callers need not change if the walk
 * ever allocates. */
void html_walk_free(html_walk *w);

/* The next piece of t's text from *pos (start at t->text): text runs and
 * CDATA contents, comments left out. 1 and [*at, *at + *len), or 0 at the
 * end. For a token that is not text_pieces the text is one piece (or more,
 * split at markup it does not understand, passed as it is). */
int html_text_piece(const char *s, const html_tok *t, size_t *pos, size_t *at, size_t *len);

/* ---------------------------------------------------------------- attributes */

typedef struct html_attr {
    size_t name, name_len;   /* may start with '=' (as the tokenizer allows) */
    size_t value, value_len; /* without quotes, character references not decoded */
    int has_value;
} html_attr;

/* The attribute at *pos (start at tok->attrs) in s[0, n): 1 and *a filled,
 * *pos moved past it; 0 at the tag's '>' or the end of input. */
int html_attr_next(const char *s, size_t n, size_t *pos, html_attr *a);

/* The first attribute of t named name (lower case): browsers drop repeats. */
int html_attr_get(const char *s, size_t n, const html_tok *t, const char *name, html_attr *a);

/* Is t's tag name name (lower case)? */
int html_tok_is(const char *s, const html_tok *t, const char *name);

/* ---------------------------------------------------------------- scripts */

typedef enum html_script_type {
    HTML_SCRIPT_CLASSIC = 1, /* no type, "", a JavaScript MIME type, or language=javascript */
    HTML_SCRIPT_MODULE,
    HTML_SCRIPT_IMPORTMAP,
    HTML_SCRIPT_SPECULATIONRULES,
    HTML_SCRIPT_DATA, /* any other type: a data block, never executed */
} html_script_type;

/* The type of a <script> start tag, as "prepare the script element" reads
 * its first type= (stripped of blanks, case-insensitive, parameters not
 * allowed) or else "text/" + language=. */
html_script_type html_script_type_of(const char *s, size_t n, const html_tok *t);

/* What a browser does with a <script> token's text. */
typedef enum html_script_class {
    HTML_SCRIPT_INLINE = 1, /* executed inline code: a CSP must hash exactly [text, +len) */
    HTML_SCRIPT_EXTERNAL,   /* src= (HTML) or href= / xlink:href= (SVG): the text is ignored */
    HTML_SCRIPT_DATA_BLOCK, /* a type that never runs */
    HTML_SCRIPT_CUT,        /* cut off by the end of the input: never runs */
    HTML_SCRIPT_OPAQUE,     /* an SVG script whose text holds markup or character
                             * references: it may run, with text tomed does not compute */
} html_script_class;

html_script_class html_script_classify(const char *s, size_t n, const html_tok *t);

#endif
