/*
 * fledge.h: write fledge wasm plugins in C (wasm32-wasi, clang + wasi-libc).
 * One header, no other files: include it and call fledge_init() first.
 *
 *   int main(void) {
 *     fledge_init();
 *     for (int i = 0; i < fledge_argc; i++) fledge_output(fledge_argv[i]);
 *     return 0;
 *   }
 *
 * It talks to fledge through the "fledge" import module (protocol fledge-v1, JSON
 * messages). Functions that need a capability (exec, store, metadata, network) use
 * the matching import only when you call them: fledge refuses to start a module
 * importing one its grants do not allow. Replies are returned as JSON text in a
 * buffer you free(); fledge_json_string / fledge_json_number read a top-level member.
 */
#ifndef FLEDGE_H
#define FLEDGE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEDGE_IMPORT(name) __attribute__((import_module("fledge"), import_name(name)))
FLEDGE_IMPORT("send") void fledge__send(const char *ptr, int len);
FLEDGE_IMPORT("recv") int fledge__recv(char *ptr, int max_len);
FLEDGE_IMPORT("exec") int fledge__exec(const char *ptr, int len);
FLEDGE_IMPORT("store_set") void fledge__store_set(const char *ptr, int len);
FLEDGE_IMPORT("store_get") int fledge__store_get(const char *ptr, int len);
FLEDGE_IMPORT("metadata") int fledge__metadata(const char *ptr, int len);
FLEDGE_IMPORT("http") int fledge__http(const char *ptr, int len);

/* ------------------------------------------------------------ a growable buffer */

typedef struct {
  char *data;
  size_t len, cap;
} fledge_buf;

static inline void fledge_buf_add(fledge_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = (char *)realloc(b->data, cap);
    if (!p) abort();
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}
static inline void fledge_buf_str(fledge_buf *b, const char *s) { fledge_buf_add(b, s, strlen(s)); }

/* Append `s` as a JSON string literal (quotes included). */
static inline void fledge_buf_json(fledge_buf *b, const char *s) {
  fledge_buf_add(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      fledge_buf_add(b, esc, 2);
    } else if (*p == '\n') {
      fledge_buf_add(b, "\\n", 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      fledge_buf_add(b, esc, 6);
    } else {
      fledge_buf_add(b, (const char *)p, 1);
    }
  }
  fledge_buf_add(b, "\"", 1);
}

/* ------------------------------------------------------------ raw messages */

/* Send one fledge-v1 message (a JSON object text). */
static inline void fledge_send(const char *json) { fledge__send(json, (int)strlen(json)); }

/* Everything pending in fledge's reply slot, as a NUL-terminated string to free(). */
static inline char *fledge_recv_all(void) {
  fledge_buf b = {0};
  char chunk[4096];
  for (;;) {
    int n = fledge__recv(chunk, (int)sizeof chunk);
    if (n <= 0) break;
    fledge_buf_add(&b, chunk, (size_t)n);
    if (n < (int)sizeof chunk) break;
  }
  if (!b.data) fledge_buf_add(&b, "", 0);
  return b.data;
}

/* Exactly `len` pending bytes (what a request import said it left), to free(). */
static inline char *fledge__take(int len) {
  if (len < 0) len = 0;
  char *out = (char *)malloc((size_t)len + 1);
  if (!out) abort();
  int n = len > 0 ? fledge__recv(out, len) : 0;
  out[n > 0 ? n : 0] = '\0';
  return out;
}

/* ------------------------------------------------------------ reading JSON */

static inline const char *fledge__ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

static inline void fledge__utf8(fledge_buf *b, unsigned long c) {
  char u[4];
  size_t n;
  if (c < 0x80) { u[0] = (char)c; n = 1; }
  else if (c < 0x800) { u[0] = (char)(0xc0 | (c >> 6)); u[1] = (char)(0x80 | (c & 0x3f)); n = 2; }
  else if (c < 0x10000) { u[0] = (char)(0xe0 | (c >> 12)); u[1] = (char)(0x80 | ((c >> 6) & 0x3f)); u[2] = (char)(0x80 | (c & 0x3f)); n = 3; }
  else { u[0] = (char)(0xf0 | (c >> 18)); u[1] = (char)(0x80 | ((c >> 12) & 0x3f)); u[2] = (char)(0x80 | ((c >> 6) & 0x3f)); u[3] = (char)(0x80 | (c & 0x3f)); n = 4; }
  fledge_buf_add(b, u, n);
}

/* Parse the JSON string at p (on its opening quote) into *out (may be NULL to skip). Returns the end, or NULL. */
static inline const char *fledge__string(const char *p, char **out) {
  fledge_buf b = {0};
  fledge_buf_add(&b, "", 0);
  p++;
  while (*p && *p != '"') {
    if (*p != '\\') {
      fledge_buf_add(&b, p++, 1);
      continue;
    }
    p++;
    char c = *p++;
    switch (c) {
      case 'n': fledge_buf_add(&b, "\n", 1); break;
      case 't': fledge_buf_add(&b, "\t", 1); break;
      case 'r': fledge_buf_add(&b, "\r", 1); break;
      case 'b': fledge_buf_add(&b, "\b", 1); break;
      case 'f': fledge_buf_add(&b, "\f", 1); break;
      case 'u': {
        unsigned long cp = strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
        p += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && p[0] == '\\' && p[1] == 'u') {
          unsigned long lo = strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
          }
        }
        fledge__utf8(&b, cp);
        break;
      }
      case 0: free(b.data); return NULL;
      default: fledge_buf_add(&b, &c, 1);
    }
  }
  if (*p != '"') { free(b.data); return NULL; }
  if (out) *out = b.data; else free(b.data);
  return p + 1;
}

/* Skip one JSON value; returns its end, or NULL. */
static inline const char *fledge__skip(const char *p) {
  p = fledge__ws(p);
  if (*p == '"') return fledge__string(p, NULL);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = fledge__ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = fledge__string(fledge__ws(p), NULL);
        if (!p) return NULL;
        p = fledge__ws(p);
        if (*p++ != ':') return NULL;
      }
      p = fledge__skip(p);
      if (!p) return NULL;
      p = fledge__ws(p);
      if (*p == ',') { p++; continue; }
      if (*p == close) return p + 1;
      return NULL;
    }
  }
  while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
  return p;
}

/* Where the value of top-level member `key` of the object `json` starts, or NULL. */
static inline const char *fledge_json_find(const char *json, const char *key) {
  const char *p = fledge__ws(json);
  if (*p != '{') return NULL;
  p = fledge__ws(p + 1);
  while (*p == '"') {
    char *k = NULL;
    p = fledge__string(p, &k);
    if (!p) return NULL;
    p = fledge__ws(p);
    if (*p++ != ':') { free(k); return NULL; }
    p = fledge__ws(p);
    int match = strcmp(k, key) == 0;
    free(k);
    if (match) return p;
    p = fledge__skip(p);
    if (!p) return NULL;
    p = fledge__ws(p);
    if (*p == ',') p = fledge__ws(p + 1);
  }
  return NULL;
}

/* The string member `key` of `json` (to free()), or NULL when absent or not a string. */
static inline char *fledge_json_string(const char *json, const char *key) {
  const char *p = fledge_json_find(json, key);
  char *out = NULL;
  if (p && *p == '"' && fledge__string(p, &out)) return out;
  return NULL;
}

/* The number member `key` of `json`, or `fallback`. */
static inline double fledge_json_number(const char *json, const char *key, double fallback) {
  const char *p = fledge_json_find(json, key);
  if (!p || !(*p == '-' || (*p >= '0' && *p <= '9'))) return fallback;
  return strtod(p, NULL);
}

/* ------------------------------------------------------------ init */

/* The init message (JSON) and the arguments after the plugin's command name. */
static char *fledge_init_json;
static int fledge_argc;
static char **fledge_argv;

/* Read the init message; call first. Returns the number of arguments. */
static inline int fledge_init(void) {
  fledge_init_json = fledge_recv_all();
  fledge_argc = 0;
  fledge_argv = (char **)calloc(1, sizeof(char *));
  const char *p = fledge_json_find(fledge_init_json, "args");
  if (p && *p == '[') {
    p = fledge__ws(p + 1);
    while (*p == '"') {
      char *arg = NULL;
      p = fledge__string(p, &arg);
      if (!p) break;
      fledge_argv = (char **)realloc(fledge_argv, sizeof(char *) * (size_t)(fledge_argc + 2));
      fledge_argv[fledge_argc++] = arg;
      fledge_argv[fledge_argc] = NULL;
      p = fledge__ws(p);
      if (*p == ',') p = fledge__ws(p + 1);
    }
  }
  return fledge_argc;
}

/* ------------------------------------------------------------ messages */

/* Text on fledge's stdout, verbatim (no newline added, as the protocol defines it). */
static inline void fledge_output(const char *text) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"type\":\"output\",\"text\":");
  fledge_buf_json(&b, text);
  fledge_buf_str(&b, "}");
  fledge__send(b.data, (int)b.len);
  free(b.data);
}

/* One line on fledge's stdout: `text` and a newline (fledge_output prints verbatim). */
static inline void fledge_outputln(const char *text) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"type\":\"output\",\"text\":");
  fledge_buf_json(&b, text);
  b.len--; /* reopen the string literal to add the newline */
  fledge_buf_str(&b, "\\n\"}");
  fledge__send(b.data, (int)b.len);
  free(b.data);
}

/* printf-style fledge_output. */
static inline void fledge_outputf(const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fledge_output(line);
}

/* A log line on stderr; level: "error", "warn", "info" or "debug". */
static inline void fledge_log(const char *level, const char *message) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"type\":\"log\",\"level\":");
  fledge_buf_json(&b, level);
  fledge_buf_str(&b, ",\"message\":");
  fledge_buf_json(&b, message);
  fledge_buf_str(&b, "}");
  fledge__send(b.data, (int)b.len);
  free(b.data);
}

/* A progress line; total <= 0 for none. */
static inline void fledge_progress(const char *message, long current, long total) {
  char nums[64] = "";
  if (total > 0) snprintf(nums, sizeof nums, ",\"current\":%ld,\"total\":%ld", current, total);
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"type\":\"progress\",\"message\":");
  fledge_buf_json(&b, message);
  fledge_buf_str(&b, nums);
  fledge_buf_str(&b, "}");
  fledge__send(b.data, (int)b.len);
  free(b.data);
}

/* Yes or no (without a terminal: `default_yes`). */
static inline int fledge_confirm(const char *message, int default_yes) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"type\":\"confirm\",\"id\":\"c\",\"message\":");
  fledge_buf_json(&b, message);
  fledge_buf_str(&b, default_yes ? ",\"default\":true}" : ",\"default\":false}");
  fledge__send(b.data, (int)b.len);
  free(b.data);
  char *reply = fledge_recv_all();
  const char *v = fledge_json_find(reply, "value");
  int yes = v && strncmp(v, "true", 4) == 0;
  free(reply);
  return yes;
}

/* Run a shell command through fledge (needs exec = true); the reply JSON {code, stdout, stderr}, to free(). */
static inline char *fledge_exec(const char *command) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"command\":");
  fledge_buf_json(&b, command);
  fledge_buf_str(&b, "}");
  int n = fledge__exec(b.data, (int)b.len);
  free(b.data);
  return fledge__take(n);
}

/* Keep a JSON value under `key` (needs store = true). */
static inline void fledge_store(const char *key, const char *json_value) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"key\":");
  fledge_buf_json(&b, key);
  fledge_buf_str(&b, ",\"value\":");
  fledge_buf_str(&b, json_value);
  fledge_buf_str(&b, "}");
  fledge__store_set(b.data, (int)b.len);
  free(b.data);
}

/* The JSON value stored under `key` ("null" when none), to free() (needs store = true). */
static inline char *fledge_load(const char *key) { return fledge__take(fledge__store_get(key, (int)strlen(key))); }

/* Project details: keys_json is a JSON array like ["git_branch"] (needs metadata = true). */
static inline char *fledge_metadata(const char *keys_json) { return fledge__take(fledge__metadata(keys_json, (int)strlen(keys_json))); }

/*
 * An HTTP(S) request (needs network = true and the host in [capabilities] hosts).
 * method: "GET", "POST", ...; body may be NULL; headers_json a JSON object or NULL.
 * The reply JSON, to free(): {status, headers, body | body_base64, url} or {error, refused}.
 */
static inline char *fledge_http(const char *method, const char *url, const char *headers_json, const char *body) {
  fledge_buf b = {0};
  fledge_buf_str(&b, "{\"method\":");
  fledge_buf_json(&b, method);
  fledge_buf_str(&b, ",\"url\":");
  fledge_buf_json(&b, url);
  if (headers_json) {
    fledge_buf_str(&b, ",\"headers\":");
    fledge_buf_str(&b, headers_json);
  }
  if (body) {
    fledge_buf_str(&b, ",\"body\":");
    fledge_buf_json(&b, body);
  }
  fledge_buf_str(&b, "}");
  int n = fledge__http(b.data, (int)b.len);
  free(b.data);
  return fledge__take(n);
}

/* End the run now with `code`. */
static inline void fledge_exit(int code) { exit(code); }

#endif
