/*
 * northstar/bpe.h — layer 2: tokenizers for the language models.
 *
 * One type, ns_bpe, covers three kinds:
 *   NS_BPE_BYTE   byte-level BPE (GPT-2 style): text is cut into chunks by
 *                 GPT-2's pre-tokenizer rule (contractions, " ?letters",
 *                 " ?digits", " ?other", whitespace runs), each chunk's bytes
 *                 start as byte tokens and the learned merges are applied in
 *                 rank order. Encode/decode is exact for ANY bytes (invalid
 *                 UTF-8 included). Trained here (ns_bpe_train) or read from
 *                 GPT-2's vocab.json + merges.txt.
 *   NS_BPE_CHAR   one token per Unicode character of a fixed alphabet
 *                 (nanoGPT's shakespeare_char): sorted distinct characters
 *                 of the training text. Characters outside it, and invalid
 *                 UTF-8, are NS_ENOTFOUND / NS_EFORMAT on encode.
 *   NS_BPE_SCORES llama2.c's tokenizer.bin (sentencepiece-style): pieces
 *                 with scores, greedy merging of the best-scoring pair,
 *                 byte fallback to <0xXX> pieces at id 3 + byte.
 *
 * Our own byte-level layout is llama2.c compatible: 0 <unk>, 1 <s> (BOS),
 * 2 </s> (EOS), 3..258 the bytes 0..255, then merges in rank order, then
 * extra special tokens (e.g. "<|user|>"). Exported to tokenizer.bin, the
 * piece of a byte is that raw byte (NUL alone is "<0x00>"), merge k has
 * score -k and the other pieces a score no merge reaches, so llama2.c's run.c
 * prints our ids' exact bytes (after BOS it drops one leading space, as
 * sentencepiece does), and its prompt encoder (dummy " " prefix, byte
 * fallback at 3 + byte, best-scoring merge of adjacent pieces) can rebuild
 * our merges, newlines and UTF-8 included. It is not our encoder: it ignores
 * the pre-tokenizer's chunk boundaries, so rare texts encode differently.
 *
 * Files: ns_bpe_save writes JSON {"type": "byte"|"char"|"scores",
 *   "pieces": [base64 or text...], "merges": [[a,b],...], "specials": {...}}
 * (see bpe.c for the exact fields); ns_bpe_load reads that JSON, llama2.c
 * tokenizer.bin (by extension .bin) or a GPT-2 directory / vocab.json.
 *
 * A tokenizer is immutable after construction: encode/decode are
 * thread-safe.
 */
#ifndef NORTHSTAR_BPE_H
#define NORTHSTAR_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "northstar/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NS_BPE_BYTE = 0, NS_BPE_CHAR = 1, NS_BPE_SCORES = 2 } ns_bpe_kind;

typedef struct ns_bpe ns_bpe;

void ns_bpe_free(ns_bpe *b);
ns_bpe_kind ns_bpe_type(const ns_bpe *b);
int ns_bpe_vocab_size(const ns_bpe *b);
int ns_bpe_bos(const ns_bpe *b); /* -1 when the tokenizer has none */
int ns_bpe_eos(const ns_bpe *b);
/* Id of a special token by its text, or -1. */
int ns_bpe_special(const ns_bpe *b, const char *text);
/* The bytes a token stands for (NOT NUL-terminated for byte tokens). */
const char *ns_bpe_piece(const ns_bpe *b, int id, size_t *len);

/* Train a byte-level BPE on text until the vocabulary has vocab_size ids
 * (259 base ids + merges + specials). specials may be NULL. Deterministic:
 * ties between pair counts go to the smaller (a, b). */
int ns_bpe_train(ns_bpe **out, const char *text, size_t len, int vocab_size,
                 const char *const *specials, int n_specials);
/* Character vocabulary of text (must be valid UTF-8). */
int ns_bpe_char_from_text(ns_bpe **out, const char *text, size_t len);

/* Encode text[0..len) into a malloc'd array (*ids, *n). allow_special = 1
 * turns the special tokens' texts (e.g. "<|endoftext|>") into their ids;
 * 0 encodes them as plain text. */
int ns_bpe_encode(const ns_bpe *b, const char *text, size_t len, int allow_special,
                  int32_t **ids, size_t *n);
/* Append the bytes of ids to out. Ids out of range are NS_ERANGE. */
int ns_bpe_decode(const ns_bpe *b, const int32_t *ids, size_t n, ns_buf *out);

/* Files. */
int ns_bpe_to_json(const ns_bpe *b, char **out);
int ns_bpe_from_json(ns_bpe **out, const char *json, size_t len, const char *src);
int ns_bpe_save(const ns_bpe *b, const char *path);
int ns_bpe_load(ns_bpe **out, const char *path);
/* llama2.c tokenizer.bin: int32 max_token_length, then per id: f32 score,
 * int32 len, len bytes. vocab_size comes from the model (the file does not
 * store it); 0 = read to the end of the file. */
int ns_bpe_load_llama2c(ns_bpe **out, const char *path, int vocab_size);
int ns_bpe_export_llama2c(const ns_bpe *b, const char *path);
/* The same for a model with vocab_size ids (0 = the tokenizer's own count):
 * run.c reads one piece per model id, so ids past the tokenizer's are written
 * as "<unusedN>". Pieces that are not merges (specials, padding) get score
 * -1e30, which llama2.c's encoder never merges into. vocab_size smaller than
 * the tokenizer is NS_EINVAL. */
int ns_bpe_export_llama2c_n(const ns_bpe *b, const char *path, int vocab_size);
/* GPT-2's vocab.json (byte-to-unicode mapped pieces -> id) and merges.txt
 * (one "a b" merge per line in rank order, "#version" header allowed). */
int ns_bpe_load_gpt2(ns_bpe **out, const char *vocab_json, const char *merges_txt);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_BPE_H */
