/* kv/adminauth.h — the admin token (-admin.token.file): reading it from its
 * file, checking what a client sends in `auth TOKEN` without leaking timing,
 * and telling whether an admin listener is reachable beyond loopback (the
 * daemon warns when such a listener has no token).
 *
 * The token file holds one line; whitespace around it is trimmed. A token
 * is ADMIN_TOKEN_MIN..ADMIN_TOKEN_MAX printable ASCII bytes without spaces
 * (it is one word of an admin line); `openssl rand -base64 32` makes one.
 * Anything else (empty, too short, two lines, a control byte, not a regular
 * file) is refused at start with a message naming the file.
 *
 * Comparison: the token is kept together with HMAC-SHA256(k, token) under
 * a random key k drawn at load; a candidate is accepted when
 * HMAC-SHA256(k, candidate) equals it, compared with CRYPTO_memcmp over the
 * 32-byte digests, so neither the token's length nor the position of the
 * first differing byte shows in the time taken (OpenSSL libcrypto only).
 *
 * Ownership: an adminauth_token_t owns its bytes; admin_token_free wipes and
 * frees them. Verification is read-only and safe from any thread. */
#ifndef KV_ADMINAUTH_H
#define KV_ADMINAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADMIN_TOKEN_MIN 16
#define ADMIN_TOKEN_MAX 1024
#define ADMIN_AUTH_ERR_MAX 640

typedef struct adminauth_token adminauth_token_t;

/* Reads and checks the token in path. NULL with a reason in err (which
 * names the file). *group_readable is set when the file's mode lets its
 * group or others read it (the caller warns). */
adminauth_token_t *admin_token_load(const char *path, bool *group_readable,
                                char err[ADMIN_AUTH_ERR_MAX]);
/* The same checks for a token given as bytes (tests, and the loader).
 * NULL with err when the text is not an acceptable token. */
adminauth_token_t *admin_token_from_text(const char *text, size_t len, char err[ADMIN_AUTH_ERR_MAX]);
/* True when candidate[0..len) is the token (constant time in the token). */
bool admin_token_matches(const adminauth_token_t *t, const char *candidate, size_t len);
/* The token itself (NUL-terminated), for a client of this daemon that must
 * authenticate to another member (the join thread). */
const char *admin_token_text(const adminauth_token_t *t);
void admin_token_free(adminauth_token_t *t);

/* True when a listen address ("HOST:PORT" as common/addr.h) is reachable
 * only from this host: 127.0.0.0/8, ::1, ::ffff:127.x, or "localhost".
 * ":PORT" (every address), other names and unparsable specs count as
 * beyond loopback. */
bool adminauth_addr_is_loopback(const char *spec);

#endif
