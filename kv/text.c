/* kv/text.c — validation of keys, values and node ids (see kv/text.h).
 * UTF-8 is decoded by hand so the rules of RFC 3629 §4 are visible: the
 * allowed second byte depends on the first (that is what excludes overlong
 * forms, surrogates and code points above U+10FFFF). */
#include "kv/text.h"

/* Decodes one code point at buf[i]; returns its length in bytes and sets *cp,
 * or returns 0 when the sequence is not valid UTF-8. */
static size_t utf8_decode_one(const uint8_t *buf, size_t len, size_t i, uint32_t *cp)
{
    uint8_t b0 = buf[i];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;      /* overlong below U+0800 */
        if (b0 == 0xED) hi = 0x9F;      /* surrogates U+D800..U+DFFF */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;      /* overlong below U+10000 */
        if (b0 == 0xF4) hi = 0x8F;      /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (len - i < need)
        return 0;
    if (buf[i + 1] < lo || buf[i + 1] > hi)
        return 0;
    uint32_t v = b0 & (0xFFu >> (need + 1));
    v = (v << 6) | (buf[i + 1] & 0x3Fu);
    for (size_t k = 2; k < need; k++) {
        if ((buf[i + k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (buf[i + k] & 0x3Fu);
    }
    *cp = v;
    return need;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

const char *kv_text_check_key(const uint8_t *key, size_t len)
{
    if (len == 0)
        return "empty key";
    if (len > KV_KEY_MAX)
        return "key too long";
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_decode_one(key, len, i, &cp);
        if (n == 0)
            return "key is not valid UTF-8";
        if (is_control(cp))
            return "key contains a control character";
        if (cp == ' ')
            return "key contains a space";
        i += n;
    }
    return NULL;
}

const char *kv_text_check_value(const uint8_t *value, size_t len)
{
    if (len == 0)
        return "empty value";
    if (len > KV_VALUE_MAX)
        return "value too long";
    for (size_t i = 0; i < len; i++)
        if (value[i] == '\n' || value[i] == '\r')
            return "value contains a line break";
    return NULL;
}

const char *kv_text_check_node_id(const uint8_t *id, size_t len)
{
    if (len == 0)
        return "empty node id";
    if (len > KV_NODE_ID_MAX)
        return "node id too long";
    for (size_t i = 0; i < len; i++) {
        uint8_t c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return "node id may contain only letters, digits, '-', '_' and '.'";
    }
    return NULL;
}
