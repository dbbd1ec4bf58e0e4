/* zone/name.c — domain names in uncompressed wire form (see name.h).
 *
 * Owns the conversion between presentation form and wire form and the
 * comparisons every other module relies on. Wire names are always validated
 * when they are built here (labels <= 63, names <= 255), so the other
 * functions can walk them without re-checking bounds. Case is preserved;
 * every comparison and the hash fold ASCII letters only (RFC 4343), never
 * bytes >= 0x80. */
#include "zone/name.h"

#include <string.h>

static inline uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t name_wire_len(const uint8_t *name)
{
    size_t i = 0;
    while (name[i] != 0)
        i += (size_t)name[i] + 1;
    return i + 1;
}

int name_label_count(const uint8_t *name)
{
    int n = 0;
    for (size_t i = 0; name[i] != 0; i += (size_t)name[i] + 1)
        n++;
    return n;
}

/* Reads one escape after a backslash at text[*pos] (pos points past the
 * backslash). Returns the octet, or -1 for a malformed \DDD or a dangling
 * backslash. */
static int read_escape(const char *text, size_t len, size_t *pos, const char **err)
{
    size_t p = *pos;
    if (p >= len) {
        *err = "dangling backslash";
        return -1;
    }
    unsigned char c = (unsigned char)text[p];
    if (c >= '0' && c <= '9') {
        if (p + 3 > len || text[p + 1] < '0' || text[p + 1] > '9' ||
            text[p + 2] < '0' || text[p + 2] > '9') {
            *err = "bad \\DDD escape";
            return -1;
        }
        int v = (c - '0') * 100 + (text[p + 1] - '0') * 10 + (text[p + 2] - '0');
        if (v > 255) {
            *err = "\\DDD escape above 255";
            return -1;
        }
        *pos = p + 3;
        return v;
    }
    *pos = p + 1;
    return c;
}

/* Appends `suffix` (a valid wire name) to the `used` octets of out. */
static int append_suffix(uint8_t *out, size_t used, const uint8_t *suffix, const char **err)
{
    size_t slen = name_wire_len(suffix);
    if (used + slen > NAME_MAX_WIRE) {
        *err = "name longer than 255 octets";
        return -1;
    }
    memcpy(out + used, suffix, slen);
    return (int)(used + slen);
}

int name_from_text(const char *text, size_t len, const uint8_t *origin,
                   uint8_t out[NAME_MAX_WIRE], const char **err)
{
    *err = NULL;
    if (len == 0) {
        *err = "empty name";
        return -1;
    }
    if (len == 1 && text[0] == '@') {
        if (origin == NULL) {
            *err = "\"@\" used without an origin";
            return -1;
        }
        return append_suffix(out, 0, origin, err);
    }
    if (len == 1 && text[0] == '.') {
        out[0] = 0;
        return 1;
    }
    size_t used = 0;      /* octets written to out, excluding the final root */
    size_t label_at = 0;  /* where the current label's length byte sits */
    size_t label_len = 0;
    bool absolute = false;
    out[0] = 0;
    used = 1;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c == '.') {
            if (label_len == 0) {
                *err = "empty label";
                return -1;
            }
            out[label_at] = (uint8_t)label_len;
            i++;
            if (i == len) {
                absolute = true;
                break;
            }
            label_at = used;
            label_len = 0;
            if (used >= NAME_MAX_WIRE) {
                *err = "name longer than 255 octets";
                return -1;
            }
            out[used++] = 0;
            continue;
        }
        int octet;
        if (c == '\\') {
            i++;
            octet = read_escape(text, len, &i, err);
            if (octet < 0)
                return -1;
        } else {
            octet = c;
            i++;
        }
        if (label_len == LABEL_MAX) {
            *err = "label longer than 63 octets";
            return -1;
        }
        /* One byte must stay free for the root label. */
        if (used + 1 >= NAME_MAX_WIRE) {
            *err = "name longer than 255 octets";
            return -1;
        }
        out[used++] = (uint8_t)octet;
        label_len++;
    }
    if (!absolute) {
        /* The loop ended inside a label (label_len > 0 is guaranteed because
         * len > 0 and a trailing dot sets `absolute`). */
        out[label_at] = (uint8_t)label_len;
        if (origin == NULL) {
            *err = "relative name without an origin";
            return -1;
        }
        return append_suffix(out, used, origin, err);
    }
    out[used] = 0;
    return (int)used + 1;
}

/* Characters that mean something in a master file and need \X. */
static bool needs_backslash(uint8_t c)
{
    return c == '.' || c == ';' || c == '\\' || c == '(' || c == ')' ||
           c == '"' || c == '@' || c == '$';
}

/* Writes one octet in presentation form into out (room for 4 bytes is
 * guaranteed by the caller); returns the number of bytes written. */
static size_t octet_to_text(uint8_t c, char *out)
{
    if (c <= 0x20 || c >= 0x7f) {
        out[0] = '\\';
        out[1] = (char)('0' + c / 100);
        out[2] = (char)('0' + (c / 10) % 10);
        out[3] = (char)('0' + c % 10);
        return 4;
    }
    if (needs_backslash(c)) {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    out[0] = (char)c;
    return 1;
}

size_t name_to_text(const uint8_t *name, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    size_t n = 0;
    if (name[0] == 0) {
        if (cap >= 2)
            out[n++] = '.';
        out[n] = '\0';
        return n;
    }
    char buf[4];
    for (size_t i = 0; name[i] != 0; i += (size_t)name[i] + 1) {
        for (size_t j = 1; j <= name[i]; j++) {
            size_t w = octet_to_text(name[i + j], buf);
            if (n + w + 1 > cap)
                goto done;
            memcpy(out + n, buf, w);
            n += w;
        }
        if (n + 2 > cap)
            goto done;
        out[n++] = '.';
    }
done:
    out[n] = '\0';
    return n;
}

bool name_equal(const uint8_t *a, const uint8_t *b)
{
    size_t i = 0;
    for (;;) {
        if (a[i] != b[i])
            return false;
        size_t l = a[i];
        if (l == 0)
            return true;
        for (size_t j = 1; j <= l; j++)
            if (ascii_lower(a[i + j]) != ascii_lower(b[i + j]))
                return false;
        i += l + 1;
    }
}

/* Fills offs with the offset of each label's length byte; returns count. */
static int label_offsets(const uint8_t *name, size_t offs[128])
{
    int n = 0;
    for (size_t i = 0; name[i] != 0 && n < 128; i += (size_t)name[i] + 1)
        offs[n++] = i;
    return n;
}

int name_compare_canonical(const uint8_t *a, const uint8_t *b)
{
    size_t oa[128], ob[128];
    int na = label_offsets(a, oa), nb = label_offsets(b, ob);
    /* Compare label by label from the rightmost (most significant). */
    for (int ia = na - 1, ib = nb - 1; ia >= 0 && ib >= 0; ia--, ib--) {
        const uint8_t *la = a + oa[ia], *lb = b + ob[ib];
        size_t n = la[0] < lb[0] ? la[0] : lb[0];
        for (size_t j = 1; j <= n; j++) {
            uint8_t ca = ascii_lower(la[j]), cb = ascii_lower(lb[j]);
            if (ca != cb)
                return ca < cb ? -1 : 1;
        }
        if (la[0] != lb[0])
            return la[0] < lb[0] ? -1 : 1;
    }
    if (na != nb)
        return na < nb ? -1 : 1;
    return 0;
}

bool name_is_subdomain(const uint8_t *name, const uint8_t *ancestor)
{
    int n = name_label_count(name), a = name_label_count(ancestor);
    if (n < a)
        return false;
    const uint8_t *p = name;
    for (int k = 0; k < n - a; k++)
        p += (size_t)p[0] + 1;
    return name_equal(p, ancestor);
}

const uint8_t *name_parent(const uint8_t *name)
{
    if (name[0] == 0)
        return NULL;
    return name + (size_t)name[0] + 1;
}

size_t name_to_lower(const uint8_t *name, uint8_t out[NAME_MAX_WIRE])
{
    size_t len = name_wire_len(name);
    size_t i = 0;
    while (name[i] != 0) {
        size_t l = name[i];
        out[i] = (uint8_t)l;
        for (size_t j = 1; j <= l; j++)
            out[i + j] = ascii_lower(name[i + j]);
        i += l + 1;
    }
    out[i] = 0;
    return len;
}

uint64_t name_hash(const uint8_t *name)
{
    /* FNV-1a over the lowercased wire form, then a final avalanche so the
     * low bits are usable directly as a bucket index. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0;; i += (size_t)name[i] + 1) {
        size_t l = name[i];
        h ^= l; /* length octets are not letters: never folded */
        h *= 0x100000001b3ULL;
        if (l == 0)
            break;
        for (size_t j = 1; j <= l; j++) {
            h ^= ascii_lower(name[i + j]);
            h *= 0x100000001b3ULL;
        }
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}
