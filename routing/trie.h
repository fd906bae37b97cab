/*
 * Host + virtual-directory routing table (one per listener).
 *
 * A table is built once per configuration generation by one thread (the control/config
 * thread) with trie_builder_*, then frozen by trie_builder_finish(). The frozen table is
 * immutable: any number of threads may call trie_lookup() on it concurrently without locks.
 * It is freed with trie_free() only once no reader can still hold it (see routing/qsbr.h).
 *
 * Matching (docs/routing.md has the full rules and the reasons):
 *  - host: exact name, else the longest "*.suffix" wildcard, else "*"; ASCII
 *    case-insensitive; trie_lookup strips ":port" (also after "[v6]") and one trailing dot.
 *    The host is chosen first (nginx semantics): if the chosen host has no matching path the
 *    result is NULL, there is no fall back to a less specific host.
 *  - path: longest whole-segment prefix of the raw request-target path (before '?'),
 *    ASCII case-insensitive, never decoded or normalised; "/" matches every path.
 *
 * The module knows nothing of io_uring or HTTP parsing; it neither logs nor reads errno.
 */
#ifndef RINGEDGE_ROUTING_TRIE_H
#define RINGEDGE_ROUTING_TRIE_H

#include <stddef.h>

struct trie_builder;
struct trie;

/* Longest host name accepted by trie_builder_add (DNS limit, without the trailing dot). */
#define TRIE_HOST_MAX	253

/*
 * Returns a new, empty builder owned by the caller (single thread), or NULL on ENOMEM.
 * Release it with trie_builder_finish() or trie_builder_free().
 */
struct trie_builder *trie_builder_new(void);

/*
 * Adds the route host + path -> value. The builder copies host and path; value is stored as
 * is (never dereferenced, never freed) and must not be NULL, since NULL means "no route".
 *
 * host: "meet.contoso.com" (exact; an IP literal "192.0.2.1" or "[2001:db8::1]" is allowed),
 *       "*.contoso.com" (any name with at least one more label in front), or "*" (any host).
 *       One trailing dot is ignored; no port; labels of [A-Za-z0-9_-], 1..63 bytes.
 * path: starts with '/'; visible ASCII except '?' and '#'; no empty segment ("//"); one
 *       trailing '/' is ignored ("/meet/" is the same route as "/meet").
 *
 * Returns 0; -EEXIST if the same host + path (case-insensitive) was already added; -EINVAL
 * for a NULL argument or a malformed host/path; -ENOMEM (the builder stays usable and its
 * routes unchanged).
 */
int trie_builder_add(struct trie_builder *b, const char *host, const char *path,
	const void *value);

/*
 * Freezes the builder into an immutable table, and consumes b (b is freed even on failure).
 * Returns the table, owned by the caller (free with trie_free), or NULL on ENOMEM.
 */
struct trie *trie_builder_finish(struct trie_builder *b);

/* Frees an unfinished builder (abandoned configuration). NULL is allowed. */
void trie_builder_free(struct trie_builder *b);

/*
 * Looks up the route for one request. Any thread, no lock, no allocation, no side effect.
 * host/host_len: the raw Host header value or absolute-form authority (may be empty: then
 * only "*" can match). path/path_len: the raw request-target path, may include "?query".
 * A path that does not start with '/' matches nothing.
 * Returns the value of the best route, or NULL if none matches (answer 404).
 */
const void *trie_lookup(const struct trie *t, const char *host, size_t host_len,
	const char *path, size_t path_len);

/* Number of routes in the table. Any thread. */
size_t trie_route_count(const struct trie *t);

/*
 * Frees the table (one allocation). The values are not touched. NULL is allowed. The caller
 * guarantees no reader still uses t: retire it through qsbr_retire() rather than calling
 * this directly while workers run.
 */
void trie_free(struct trie *t);

#endif
