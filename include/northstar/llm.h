/*
 * northstar/llm.h — layer 3: decoder-only transformers (GPT-2 and Llama
 * families) trained, fine-tuned and run in C.
 *
 * A model is a config, one allocation of parameters carved into named
 * tensors, and a forward and backward written out from the foundation
 * kernels (tensor.h) — no autograd. Two families, chosen by config.arch:
 *   GPT-2:  learned positions, LayerNorm (optional biases), GELU (tanh) MLP,
 *           tied embeddings by default.
 *   Llama:  RoPE (adjacent pairs, as Meta's code and llama2.c), RMSNorm,
 *           SwiGLU MLP, grouped-query attention, optional untied output.
 * Both are checked tensor by tensor (logits, loss, every parameter
 * gradient, the first AdamW steps) against a PyTorch twin in tests/ref.
 *
 * Files (safetensors, see safetensors.h). The lists below ARE the format:
 * config.c and io.c expand them into the schema ns_llm_load checks with
 * ns_st_load, and model.c names the parameters after them.
 *   metadata "format" = "northstar-llm-1" (NS_LLM_FORMAT, '-',
 *     NS_LLM_VERSION); files without it are read as version 1;
 *   metadata "config": a JSON object with the keys of NS_LLM_FILE_CONFIG,
 *     each row X(key, kind, REQ | OPT, min, max, meaning); an absent key
 *     takes the default of the family (ns_llm_config_default; d_ff 4C for
 *     GPT-2, ~8C/3 for Llama; n_kv_head = n_head); a key not in the list
 *     is an error. The same keys make a config given to the command;
 *   metadata "tokenizer" (optional): the BPE tokenizer as JSON (bpe.h);
 *   tensors: the parameters, NS_LLM_FILE_TENSORS, stacked over layers, each
 *     row X(id, name, dtype, REQ | OPT, shape in config keys, meaning); a
 *     "*" is QKV = (H + 2 KVH) hd with hd = C / H (qkv) or F for GPT-2, 2F
 *     for Llama (fc.w). The optional rows exist only in the models that have
 *     them (biases: GPT-2 with bias = 1; wpe: GPT-2; lm_head: untied), and
 *     the loader reads each parameter with its exact shape. Checkpoints
 *     add NS_LLM_CHECKPOINT_TENSORS and the metadata "train".
 *
 * Threads: a model's weights are read-only once loaded, so any number of
 * threads may generate at once, each with its own ns_llm_ctx. Training
 * calls (forward/backward/step) on one model are NOT thread-safe; they use
 * ns_threads() OpenMP threads internally.
 *
 * Example (generation):
 *   ns_llm *m; ns_bpe *tok;
 *   if (ns_llm_load(&m, &tok, "model.safetensors") < 0) die(ns_err_msg());
 *   ns_llm_gen_cfg g = ns_llm_gen_defaults();  g.max_tokens = 100;
 *   ns_llm_generate(m, tok, "Once upon a time", &g, on_piece, NULL, &stats);
 *   ns_bpe_free(tok); ns_llm_free(m);
 */
#ifndef NORTHSTAR_LLM_H
#define NORTHSTAR_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "northstar/base.h"
#include "northstar/bpe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NS_LLM_GPT2 = 0, NS_LLM_LLAMA = 1 } ns_llm_arch;

/* ---- file format (see the comment at the top) --------------------------- */

#define NS_LLM_FORMAT "northstar-llm"
#define NS_LLM_VERSION 1
#define NS_LLM_FILE_CONFIG(X)                                                                    \
    X(arch, STR, OPT, 1, 15, "\"gpt2\" (default) or \"llama\"")                                  \
    X(vocab_size, INT, OPT, 1, 1 << 24, "V")                                                     \
    X(max_seq, INT, OPT, 1, 1 << 20, "Tmax: context length")                                     \
    X(n_layer, INT, OPT, 1, 1024, "L")                                                           \
    X(n_head, INT, OPT, 1, 1024, "H")                                                            \
    X(n_kv_head, INT, OPT, 1, 1024, "KVH, divides H (GPT-2: = H)")                               \
    X(d_model, INT, OPT, 1, 1 << 16, "C, divisible by H; hd = C / H even for Llama")             \
    X(d_ff, INT, OPT, 1, 1 << 18, "F: MLP hidden width")                                         \
    X(tied, INT, OPT, 0, 1, "the output projection is wte")                                      \
    X(bias, INT, OPT, 0, 1, "GPT-2 only: biases in the linears and norms")                       \
    X(norm_eps, NUM, OPT, 0, 1, "LayerNorm / RMSNorm epsilon, strictly inside (0, 1)")           \
    X(rope_theta, NUM, OPT, 0, 1e30, "Llama only: RoPE base, > 1")
#define NS_LLM_FILE_TENSORS(X)                                                                   \
    X(WTE, "wte", F32, REQ, "[vocab_size, d_model]", "token embeddings")                         \
    X(WPE, "wpe", F32, OPT, "[max_seq, d_model]", "learned positions (GPT-2)")                   \
    X(LN1W, "ln1.w", F32, REQ, "[n_layer, d_model]", "attention norm weights")                   \
    X(LN1B, "ln1.b", F32, OPT, "[n_layer, d_model]", "attention norm biases")                    \
    X(QKVW, "qkv.w", F32, REQ, "[n_layer, *, d_model]", "fused q, k, v projections, QKV rows")   \
    X(QKVB, "qkv.b", F32, OPT, "[n_layer, *]", "their biases [L, QKV]")                          \
    X(PROJW, "attn.proj.w", F32, REQ, "[n_layer, d_model, d_model]", "attention output")         \
    X(PROJB, "attn.proj.b", F32, OPT, "[n_layer, d_model]", "its biases")                        \
    X(LN2W, "ln2.w", F32, REQ, "[n_layer, d_model]", "MLP norm weights")                         \
    X(LN2B, "ln2.b", F32, OPT, "[n_layer, d_model]", "MLP norm biases")                          \
    X(FCW, "fc.w", F32, REQ, "[n_layer, *, d_model]", "MLP input: F rows (Llama: gate then up, 2F)") \
    X(FCB, "fc.b", F32, OPT, "[n_layer, d_ff]", "its biases")                                    \
    X(FCPW, "fc.proj.w", F32, REQ, "[n_layer, d_model, d_ff]", "MLP output")                     \
    X(FCPB, "fc.proj.b", F32, OPT, "[n_layer, d_model]", "its biases")                           \
    X(LNFW, "lnf.w", F32, REQ, "[d_model]", "final norm weights")                                \
    X(LNFB, "lnf.b", F32, OPT, "[d_model]", "final norm biases")                                 \
    X(LMHEAD, "lm_head", F32, OPT, "[vocab_size, d_model]", "output projection (untied)")
#define NS_LLM_CHECKPOINT_TENSORS(X)                                                             \
    X(ADAM_M, "adam.m", F32, OPT, "[*]", "AdamW first moments of all parameters, flat")          \
    X(ADAM_V, "adam.v", F32, OPT, "[*]", "AdamW second moments, flat")

/* The model's shape; the keys of NS_LLM_FILE_CONFIG. */
typedef struct ns_llm_config {
    int arch;         /* "arch": "gpt2" | "llama" */
    int vocab_size;   /* V */
    int max_seq;      /* Tmax: context length */
    int n_layer;      /* L */
    int n_head;       /* H */
    int n_kv_head;    /* KVH, divides H (GPT-2: = H) */
    int d_model;      /* C, divisible by H; hd = C/H must be even for Llama */
    int d_ff;         /* F: MLP hidden width */
    int tied;         /* output projection shares wte */
    int bias;         /* GPT-2 only: biases in linears and LayerNorms */
    float norm_eps;   /* LayerNorm / RMSNorm epsilon */
    float rope_theta; /* Llama only */
} ns_llm_config;

/* Defaults for a family: a small model (L 4, H 4, C 128, Tmax 256, V 256). */
ns_llm_config ns_llm_config_default(ns_llm_arch arch);
/* Reject impossible configs (sizes, divisibility, family rules). */
int ns_llm_config_validate(const ns_llm_config *c);
/* Parse JSON (the keys of NS_LLM_FILE_CONFIG) over the defaults of its
 * "arch"; unknown keys, wrong types and invalid values are NS_EFORMAT
 * errors naming the key, and leave *c the GPT-2 defaults. src names the
 * input in messages (may be NULL). */
int ns_llm_config_parse(ns_llm_config *c, const char *json, const char *src);
/* JSON text (malloc'd). */
char *ns_llm_config_json(const ns_llm_config *c);
const char *ns_llm_arch_name(int arch);

typedef struct ns_llm ns_llm;

/* ---- life cycle -------------------------------------------------------- */

int ns_llm_new(ns_llm **out, const ns_llm_config *c);
void ns_llm_free(ns_llm *m);
const ns_llm_config *ns_llm_cfg(const ns_llm *m);
/* GPT-2 style init: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
 * biases 0, norm weights 1. Deterministic for a seed. */
void ns_llm_init(ns_llm *m, uint64_t seed);
size_t ns_llm_num_params(const ns_llm *m);

/* Named tensors, in file order. ns_llm_grad is NULL before training. */
int ns_llm_tensor_count(const ns_llm *m);
const char *ns_llm_tensor_name(const ns_llm *m, int i);
float *ns_llm_param(ns_llm *m, const char *name, size_t *numel);
float *ns_llm_grad(ns_llm *m, const char *name, size_t *numel);
float *ns_llm_params_flat(ns_llm *m); /* all parameters, one array */

/* ---- files ------------------------------------------------------------- */

/* Save weights + config (+ the tokenizer, if given, as JSON in metadata key
 * "tokenizer") to safetensors, atomically. */
int ns_llm_save(const ns_llm *m, const ns_bpe *tok, const char *path);
/* Load a model. Recognises our safetensors files (shapes are checked
 * against the config, unknown tensors are errors) and llama2.c checkpoints
 * (".bin": 7-int header, fp32 weights, shared or separate classifier)
 * and GGUF v3 files (magic "GGUF": Llama and GPT-2 architectures, tensors
 * F32, F16, Q8_0 and Q4_0 kept in their type, the tokenizer of
 * tokenizer.ggml.*, see ns_llm_chat_template);
 * every parameter must be finite (a NaN or infinity is an error naming the
 * tensor and its first bad element). The file is read, never mapped: the
 * loaded model no longer depends on it. *tok (may be NULL) receives the
 * embedded tokenizer or NULL when there is none. */
int ns_llm_load(ns_llm **out, ns_bpe **tok, const char *path);
/* Export a Llama-family model in llama2.c's checkpoint format (version 0:
 * header dim, hidden_dim, n_layers, n_heads, n_kv_heads, ±vocab_size
 * (negative = separate classifier), seq_len; then token embedding, rms_att,
 * wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real/imag, wcls). */
int ns_llm_export_llama2c(const ns_llm *m, const char *path);

/* ---- training forward / backward --------------------------------------- */

/* Forward over idx[B*T] (T <= Tmax). With targets (same shape; -1 = not
 * counted) returns the mean cross-entropy in *loss; targets may be NULL.
 * Ids out of [0, V) are NS_ERANGE. Activations are kept for backward. */
int ns_llm_forward(ns_llm *m, const int32_t *idx, const int32_t *targets, int B, int T,
                   float *loss);
/* Logits [B,T,V] and final normalised hidden states [B,T,C] of the last
 * forward (valid until the next forward). */
const float *ns_llm_logits(const ns_llm *m);
const float *ns_llm_hidden(const ns_llm *m);
/* Same as ns_llm_forward but stops at the final norm (no logits, no loss):
 * for heads other than the LM head (classification). */
int ns_llm_forward_hidden(ns_llm *m, const int32_t *idx, int B, int T);
void ns_llm_zero_grad(ns_llm *m);
/* Backward of the last ns_llm_forward with targets: gradients ACCUMULATE
 * (+=), scaled by `scale` (1/accumulation steps). */
int ns_llm_backward(ns_llm *m, float scale);
/* Backward from a gradient on the final hidden states dhidden[B,T,C]
 * (after ns_llm_forward_hidden). Accumulates. */
int ns_llm_backward_hidden(ns_llm *m, const float *dhidden);

/* ---- optimisation ------------------------------------------------------ */

typedef struct ns_llm_train_cfg {
    float lr, min_lr;       /* peak and floor of warmup + cosine */
    long warmup, decay_steps; /* schedule lengths (decay_steps = total) */
    float beta1, beta2, eps;
    float weight_decay;     /* AdamW, on matrices and embeddings only */
    float grad_clip;        /* global norm; 0 = off */
    int grad_accum;         /* micro-batches per step */
    int batch, seq;         /* B and T of a micro-batch */
    uint64_t seed;          /* batch sampling */
} ns_llm_train_cfg;
ns_llm_train_cfg ns_llm_train_defaults(void);

/* Optimizer state + step + RNG: everything a resumed run needs. */
typedef struct ns_llm_trainer {
    ns_llm *m;
    ns_llm_train_cfg cfg;
    float *adam_m, *adam_v; /* [n_params] */
    long step;              /* optimizer steps done */
    ns_rng rng;             /* batch sampling state */
    double last_norm;       /* gradient norm of the last step */
    float last_lr;
} ns_llm_trainer;

int ns_llm_trainer_init(ns_llm_trainer *t, ns_llm *m, const ns_llm_train_cfg *cfg);
void ns_llm_trainer_release(ns_llm_trainer *t);
/* Draw a random batch of (x, y) windows from tokens[0..n) with the trainer's
 * RNG (nanoGPT's get_batch): x, y are [B*T]. n must exceed T. */
void ns_llm_sample_batch(ns_llm_trainer *t, const int32_t *tokens, size_t n, int32_t *x,
                         int32_t *y);
/* One optimizer step after the gradients of grad_accum micro-batches have
 * been accumulated: clip, lr schedule, AdamW with decay groups, step++. */
void ns_llm_trainer_update(ns_llm_trainer *t);
/* One full step on tokens (sample, forward, backward for each
 * micro-batch, update). Returns the mean loss over micro-batches. */
int ns_llm_train_step(ns_llm_trainer *t, const int32_t *tokens, size_t n, float *loss);
/* Mean loss over `iters` batches drawn from tokens with its own RNG
 * (seed), so evaluation does not disturb the training stream. */
int ns_llm_eval_loss(ns_llm *m, const int32_t *tokens, size_t n, int B, int T, int iters,
                     uint64_t seed, float *loss);
/* Checkpoint: model + tokenizer + Adam m, v + step + RNG + train config. */
int ns_llm_checkpoint_save(const ns_llm_trainer *t, const ns_bpe *tok, const char *path);
/* Loads the model and trainer state (*t initialised here); *tok may be NULL. */
int ns_llm_checkpoint_load(ns_llm_trainer *t, ns_llm **m, ns_bpe **tok, const char *path);

/* ---- inference ---------------------------------------------------------- */

/* Per-sequence state: KV cache [L, Tmax, KVH*hd] x 2 and scratch. One per
 * thread; it borrows the model, which must outlive it. */
typedef struct ns_llm_ctx ns_llm_ctx;
int ns_llm_ctx_new(ns_llm_ctx **out, const ns_llm *m);
void ns_llm_ctx_free(ns_llm_ctx *c);
void ns_llm_ctx_reset(ns_llm_ctx *c);
int ns_llm_ctx_pos(const ns_llm_ctx *c);
/* Feed n tokens at the current position (prompt prefill); returns the
 * logits [V] after the last one (valid until the next call). Refuses to go
 * past Tmax (NS_ERANGE). */
int ns_llm_ctx_feed(ns_llm_ctx *c, const int32_t *ids, int n, const float **logits);
/* Quantise the weights of the big matrices to int8 (per-row groups of 32,
 * as llama2.c's runq) for inference through this context. */
int ns_llm_ctx_quantize_int8(ns_llm_ctx *c);

typedef struct ns_llm_gen_cfg {
    int max_tokens;        /* new tokens at most (default 256) */
    float temperature;     /* 0 = greedy (default 0.8) */
    int top_k;             /* 0 = off (default 40) */
    float top_p;           /* 1 = off (default 0.95) */
    float repeat_penalty;  /* 1 = off (default 1.0), CTRL-style on logits */
    int repeat_last_n;     /* window for the penalty (default 64) */
    uint64_t seed;
    const char *const *stop; /* stop sequences (may be NULL) */
    int n_stop;
    int stop_at_eos;       /* stop at the tokenizer's EOS token (default 1) */
    int int8;              /* use int8 weights (default 0) */
    int slide;             /* when the context is full, keep its last half (re-prefilled)
                              and go on, instead of finishing with "context" (default 0) */
} ns_llm_gen_cfg;
ns_llm_gen_cfg ns_llm_gen_defaults(void);

typedef struct ns_llm_gen_stats {
    int prompt_tokens, gen_tokens;
    int truncated;         /* prompt tokens dropped from the left */
    double prefill_s, gen_s;
    const char *finish;    /* "stop", "length", "eos", "callback", "context" */
} ns_llm_gen_stats;

/* Called with each piece of text as soon as it is complete UTF-8 (a token
 * that ends inside a multi-byte character is held back until the
 * character completes; text of a stop sequence is never emitted). Return
 * nonzero to stop. */
typedef int (*ns_llm_piece_fn)(const char *text, size_t len, void *ctx);

/* Sample one token from logits[V] (modified in place by temperature and
 * penalties). recent[n_recent] are the last tokens for the penalty. */
int ns_llm_sample(float *logits, int V, const ns_llm_gen_cfg *g, const int32_t *recent,
                  int n_recent, ns_rng *rng);

/* Encode the prompt (special-token texts become their ids; BOS is
 * prepended to an empty prompt and to every prompt of a llama2.c
 * tokenizer), prefill, then sample until max_tokens, EOS, a stop
 * sequence or the end of the context. A prompt longer than Tmax - 1 tokens
 * is truncated from the left (a warning is logged and stats->truncated
 * says how many tokens went). Invalid UTF-8 in the prompt is NS_EFORMAT.
 * The full text (without the stop sequence) is appended to out if non-NULL. */
int ns_llm_generate(const ns_llm *m, const ns_bpe *tok, const char *prompt,
                    const ns_llm_gen_cfg *g, ns_llm_piece_fn fn, void *fn_ctx, ns_buf *out,
                    ns_llm_gen_stats *stats);
/* Same, on a caller's context (reset first) — for servers reusing buffers. */
int ns_llm_generate_ctx(ns_llm_ctx *c, const ns_bpe *tok, const char *prompt,
                        const ns_llm_gen_cfg *g, ns_llm_piece_fn fn, void *fn_ctx, ns_buf *out,
                        ns_llm_gen_stats *stats);

/* ---- streaming text ------------------------------------------------------ */

/* Turns the pieces of sampled tokens into text for a caller: holds back an
 * incomplete UTF-8 character and any suffix that may still grow into a stop
 * sequence, and never emits a stop sequence. fn (may be NULL) gets each
 * piece as it completes, out (may be NULL) the whole text. */
typedef struct ns_llm_stream {
    ns_buf pending;
    const char *const *stop;
    int n_stop;
    ns_llm_piece_fn fn;
    void *fn_ctx;
    ns_buf *out;
    int stopped; /* fn returned nonzero */
} ns_llm_stream;
void ns_llm_stream_init(ns_llm_stream *s, const char *const *stop, int n_stop, ns_llm_piece_fn fn, void *fn_ctx,
                        ns_buf *out);
/* The bytes of one token; 1 when a stop sequence completed (the text before
 * it has been emitted, nothing after it will be). */
int ns_llm_stream_push(ns_llm_stream *s, const char *p, size_t n);
/* End of generation: emit what was held back. */
void ns_llm_stream_finish(ns_llm_stream *s);
void ns_llm_stream_release(ns_llm_stream *s);

/* ---- serving primitives ---------------------------------------------------- */

/* Move a context back to position pos <= its position: the KV cache of
 * positions < pos is kept (a prompt prefix shared with the next request is
 * not computed again). */
int ns_llm_ctx_rewind(ns_llm_ctx *c, int pos);
/* One decode step of n sequences at once (continuous batching): ids[i] is
 * fed to ctxs[i] at its own position, every weight matrix is read once for
 * all n, and logits[i] receives ctxs[i]'s logits [V] (valid until that
 * context's next call). The contexts are distinct, of the same model, with
 * the same int8 setting. Same checks as ns_llm_ctx_feed. */
int ns_llm_step_batch(ns_llm_ctx *const *ctxs, const int32_t *ids, int n, const float **logits);
/* Mean of the final normalised hidden states of ids[0..n) fed from
 * position 0 (the context is reset first): out[C]. */
int ns_llm_ctx_embed(ns_llm_ctx *c, const int32_t *ids, int n, float *out);

/* ---- GGUF ------------------------------------------------------------------ */

/* Weight types of inference matrices; the values are GGUF's (ggml) type ids. */
typedef enum { NS_LLM_F32 = 0, NS_LLM_F16 = 1, NS_LLM_Q4_0 = 2, NS_LLM_Q8_0 = 8 } ns_llm_wtype;
const char *ns_llm_wtype_name(int t); /* "f32", "f16", "q4_0", "q8_0", NULL if unknown */
/* Write the model as GGUF v3 (architecture "llama" or "gpt2", the
 * tokenizer as tokenizer.ggml.*, a chat template when given), its matrices
 * in type t (norms and biases stay F32), atomically. */
int ns_llm_save_gguf(const ns_llm *m, const ns_bpe *tok, const char *chat_template, ns_llm_wtype t,
                     const char *path);
/* Replace the model's inference matrices by copies in type t (Q8_0, Q4_0,
 * F16; widths divisible by 32 for the Q types), shared by every context
 * made afterwards. For inference: training still runs on the fp32 params,
 * which the copies no longer follow. */
int ns_llm_quantize(ns_llm *m, ns_llm_wtype t);
/* Metadata of a loaded GGUF model (NULL when absent or not GGUF):
 * tokenizer.chat_template, general.name. */
const char *ns_llm_chat_template(const ns_llm *m);
const char *ns_llm_name(const ns_llm *m);
/* The type of the model's big matrices (NS_LLM_F32 for our own files). A
 * model loaded from a quantised GGUF is for inference only: training and
 * saving calls refuse it with NS_EUNSUPPORTED. */
ns_llm_wtype ns_llm_weight_type(const ns_llm *m);

/* ---- fine-tuning -------------------------------------------------------- */

/* GPT-1 classification: a linear head [K, C+1] (weights, bias) on the final
 * hidden state of each text's last token (EOS appended as the extract token
 * when the tokenizer has one), trained jointly with the model (AdamW,
 * warmup 10% + cosine). Texts longer than max_len tokens keep their start. */
typedef struct ns_llm_cls_cfg {
    int n_classes, epochs, batch, max_len;
    float lr, weight_decay;
    uint64_t seed;
} ns_llm_cls_cfg;
ns_llm_cls_cfg ns_llm_cls_defaults(void);
int ns_llm_cls_train(ns_llm *m, const ns_bpe *tok, const char *const *texts, const int *labels, int n,
                     const ns_llm_cls_cfg *cfg, float *head, float *final_loss);
int ns_llm_cls_predict(ns_llm *m, const ns_bpe *tok, const char *const *texts, int n, int max_len,
                       const float *head, int K, int *pred);
/* Model + tokenizer + tensor "cls.head" [K, C+1]. */
int ns_llm_cls_save(const ns_llm *m, const ns_bpe *tok, const float *head, int K, const char *path);

/* SFT: "<|user|>\n{prompt}\n<|assistant|>\n" then the response and EOS; ids
 * [n] and targets [n] with -1 on every position that predicts a prompt
 * token, so the loss counts response tokens (and EOS) only. Responses are
 * cut to fit max_len + 1 tokens. */
typedef struct ns_llm_sft_ex {
    int32_t *ids, *tgt;
    int n;
} ns_llm_sft_ex;
int ns_llm_sft_encode(const ns_bpe *tok, const char *prompt, const char *response, int max_len,
                      ns_llm_sft_ex *ex);
/* JSONL, one {"prompt": "...", "response": "..."} per line; errors name the line. */
int ns_llm_sft_load(const char *path, const ns_bpe *tok, int max_len, ns_llm_sft_ex **out, int *n);
void ns_llm_sft_free(ns_llm_sft_ex *ex, int n);
/* One AdamW step on a random batch (trainer's RNG and batch size), rows
 * right-padded with ignored targets. */
int ns_llm_sft_step(ns_llm_trainer *t, const ns_llm_sft_ex *ex, int n, float *loss);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_LLM_H */
