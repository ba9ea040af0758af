/*
 * northstar/grammar.h — layer 4 generation: constrained decoding.
 *
 * A byte-level incremental recogniser of JSON, constrained by a JSON Schema
 * subset, that masks a model's logits so that whatever it samples keeps the
 * output a valid prefix of the constraint's language: OpenAI's
 * response_format {"type": "json_object"} / {"type": "json_schema"} and tool
 * calls. Every prefix the recogniser accepts can be completed (there are no
 * dead ends), and every complete output parses as JSON and validates
 * against the schema.
 *
 * The language (what is forced beyond the schema)
 *   - Whitespace: none, except at most one space right after ':' and after
 *     ',' (so `{"a": 1, "b": [1, 2]}` and `{"a":1,"b":[1,2]}` both pass; a
 *     model cannot loop on whitespace). Nothing may follow the value.
 *   - Object keys of a schema object come in the order of "properties" in
 *     the schema text; optional ones may be skipped, each at most once,
 *     written as their plain UTF-8 bytes (no escapes). No keys beyond
 *     "properties" are produced, whatever additionalProperties says (an
 *     object without extra keys is valid either way). An object schema
 *     without "properties" (and additionalProperties not false) is any
 *     JSON object; a "required" name missing from "properties" takes any
 *     value.
 *   - Strings: JSON escapes (\" \\ \/ \b \f \n \r \t \uXXXX with surrogate
 *     pairs; not \u0000), raw bytes only as valid UTF-8, no control bytes.
 *     minLength/maxLength count code points (an escape is one).
 *   - Numbers: the JSON grammar with at most 16 integer digits, 16
 *     fraction digits and 2 exponent digits (so jansson and doubles hold
 *     them); "integer" has neither fraction nor exponent.
 *   - enum / const: exactly the compact JSON text of one of the values.
 *   - Any JSON value (schema {} or true, json_object's members) opens no
 *     container once 16 values are open around it, so nesting is bounded;
 *     lengths are not (beyond maxItems / maxLength): that is max_tokens'
 *     job.
 * Schema subset: type (a name or a list of names) object (properties,
 * required, additionalProperties), array (items as one schema, minItems,
 * maxItems), string (minLength, maxLength), number, integer, boolean,
 * null, enum, const, anyOf whose branches start with different bytes
 * (e.g. a string or null; not two objects), nested up to 32 deep.
 * Annotations (title, description, default, examples, $schema, $id,
 * $comment, $defs, definitions, deprecated, readOnly, writeOnly) are
 * ignored. Any other keyword (pattern, format, minimum, $ref, oneOf, ...)
 * is NS_EUNSUPPORTED naming its JSON Pointer path, e.g. "json schema
 * '#/properties/age/minimum': keyword not supported"; malformed schema
 * JSON or a keyword of the wrong type is NS_EFORMAT, also with the path.
 *
 * Example
 *   ns_grammar *g; ns_grammar_state *s;
 *   ns_grammar_from_schema(&g, schema, strlen(schema));
 *   ns_grammar_state_new(&s, g);
 *   for (;;) {
 *       model logits -> ns_grammar_mask(s, tok, logits, V) -> sample id
 *       if (id == ns_bpe_eos(tok)) break;        // allowed only when done
 *       piece = ns_bpe_piece(tok, id, &n); ns_grammar_feed(s, piece, n);
 *   }
 *
 * A grammar is immutable once built (share it between threads); a state
 * belongs to one sequence.
 */
#ifndef NORTHSTAR_GRAMMAR_H
#define NORTHSTAR_GRAMMAR_H

#include <stddef.h>

#include "northstar/base.h"
#include "northstar/bpe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_grammar ns_grammar;             /* compiled constraint (immutable, shareable) */
typedef struct ns_grammar_state ns_grammar_state; /* per-sequence parse state */

/* response_format {"type": "json_object"}: any JSON object. */
int ns_grammar_json_object(ns_grammar **out);
/* A JSON Schema (the subset above) as JSON text. */
int ns_grammar_from_schema(ns_grammar **out, const char *schema_json, size_t len);
/* A tool call: {"name": one of names, "arguments": an instance of that tool's
 * parameter schema} (name first). param_schemas[i] NULL = no parameters
 * ("arguments": {}). Names must be distinct; errors name the tool. */
int ns_grammar_tools(ns_grammar **out, const char *const *names, const char *const *param_schemas, int n);
void ns_grammar_free(ns_grammar *g);

int ns_grammar_state_new(ns_grammar_state **out, const ns_grammar *g);
/* A copy of s (a few hundred bytes at most), e.g. for a beam or a retry. */
int ns_grammar_state_clone(ns_grammar_state **out, const ns_grammar_state *s);
void ns_grammar_state_free(ns_grammar_state *s);

/* Feed bytes: 0 when s[..] + bytes is still a valid prefix, NS_EINVAL
 * (naming the byte offset) when not, with s unchanged. */
int ns_grammar_feed(ns_grammar_state *s, const char *bytes, size_t n);
/* 1 when what was fed is a complete value (EOS may come), else 0. */
int ns_grammar_done(const ns_grammar_state *s);
/* Set logits[i] = -INFINITY for every token i < V whose piece
 * (ns_bpe_piece) would not keep a valid prefix, for special, BOS and
 * empty-piece tokens and ids past the tokenizer's; EOS stays only when done.
 * Returns the number of tokens left allowed (0 when the value is done and
 * the tokenizer has no EOS: stop there). The trie of the tokenizer's
 * pieces is built on first use and cached (a few tokenizers, recognised by
 * their pieces), so a step costs one walk of the trie pruned by the parser. */
int ns_grammar_mask(const ns_grammar_state *s, const ns_bpe *tok, float *logits, int V);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_GRAMMAR_H */
