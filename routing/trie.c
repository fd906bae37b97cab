/*
 * Host + vDir routing table. Layout (docs/routing.md, "Data structure"):
 *
 *  - exact hosts: open-addressing hash table, key = lower-cased name;
 *  - wildcards "*.s": a second table keyed by the suffix s; a lookup probes it once per dot
 *    of the request host, left-most dot first, so the first hit is the longest suffix;
 *  - "*": a single root;
 *  - paths: every host owns a root node of one shared segment trie. A node is an index into
 *    nodes[]; edges live in one hash table keyed by (parent node, lower-cased segment), so
 *    a step costs one probe whatever the fan-out.
 *
 * Host hashes are computed over the name *from right to left*: when a lookup scans the
 * request host backwards, the running hash at each '.' is already the hash of the suffix
 * behind it, so one pass yields the exact-name hash and every wildcard candidate.
 *
 * The finished table is one malloc'd block (header, tables, nodes, strings), so retiring a
 * generation is a single free() and lookups touch few cache lines.
 *
 * Hash flooding is not a concern: the tables are built from the configuration, a request
 * only chooses where a probe starts, and the longest probe sequence is bounded by the
 * longest cluster of the configured keys (load factor <= 1/2).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/hash.h"
#include "routing/trie.h"

#define TRIE_NONE	UINT32_MAX
#define TRIE_MIN_SLOTS	16u
#define TRIE_LABEL_MAX	63

/* Host table slot; root == TRIE_NONE marks an empty slot. */
struct trie_hslot {
	uint64_t	hash;
	uint32_t	key_off;	/* lower-cased name in strings[] */
	uint32_t	key_len;
	uint32_t	root;		/* path-trie root node of this host */
	uint32_t	pad;
};

/* Edge table slot; child == TRIE_NONE marks an empty slot. */
struct trie_eslot {
	uint64_t	hash;
	uint32_t	parent;
	uint32_t	child;
	uint32_t	label_off;	/* lower-cased segment in strings[] */
	uint32_t	label_len;
};

struct trie_node {
	const void	*value;		/* NULL: no route ends here */
	uint32_t	nchild;		/* lets a lookup stop without hashing the next segment */
	uint32_t	pad;
};

/* Growable tables while building; the finished table copies them verbatim. */
struct trie_builder {
	struct trie_hslot	*exact;
	uint32_t		exact_mask, nexact;
	struct trie_hslot	*wild;
	uint32_t		wild_mask, nwild;
	struct trie_eslot	*edges;
	uint32_t		edge_mask, nedges;
	struct trie_node	*nodes;
	uint32_t		nnodes, nodes_cap;
	uint32_t		any_root;
	char			*strings;
	size_t			str_len, str_cap;
	size_t			nroutes;
};

struct trie {
	const struct trie_hslot	*exact;
	const struct trie_hslot	*wild;
	const struct trie_eslot	*edges;
	const struct trie_node	*nodes;
	const char		*strings;
	uint32_t		exact_mask, nexact;
	uint32_t		wild_mask, nwild;
	uint32_t		edge_mask, nnodes;
	uint32_t		any_root;
	size_t			nroutes;
};

enum trie_host_kind {
	TRIE_HOST_EXACT,
	TRIE_HOST_WILD,		/* "*.suffix": key is the suffix */
	TRIE_HOST_ANY,		/* "*" */
};

static inline unsigned char
lower(unsigned char c)
{
	return (unsigned char)(c - 'A') < 26u ? c | 0x20 : c;
}

/* host and segment hashes: case-folded FNV-1a, then fmix64 (core/lib/hash.h) */
static uint64_t
host_hash(const char *s, size_t n)
{
	uint64_t h = FNV64_BASIS;

	while (n-- > 0)
		h = (h ^ lower((unsigned char)s[n])) * FNV64_PRIME;
	return fmix64(h);
}

static inline uint64_t
seg_hash(uint32_t parent, const char *s, size_t n)
{
	uint64_t h = FNV64_BASIS ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ULL);

	for (size_t i = 0; i < n; i++)
		h = (h ^ lower((unsigned char)s[i])) * FNV64_PRIME;
	return fmix64(h);
}

/* key is stored lower-cased; s is raw input. */
static inline bool
key_eq(const char *key, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] != lower((unsigned char)s[i]))
			return false;
	return true;
}

/* Returns the slot holding key, or the empty slot where it would go. Load <= 1/2. */
static const struct trie_hslot *
host_slot(const struct trie_hslot *tab, uint32_t mask, const char *strings, uint64_t h,
	const char *key, size_t len)
{
	for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		const struct trie_hslot *s = &tab[i];

		if (s->root == TRIE_NONE)
			return s;
		if (s->hash == h && s->key_len == len && key_eq(strings + s->key_off, key, len))
			return s;
	}
}

static const struct trie_eslot *
edge_slot(const struct trie_eslot *tab, uint32_t mask, const char *strings, uint32_t parent,
	uint64_t h, const char *seg, size_t len)
{
	for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		const struct trie_eslot *s = &tab[i];

		if (s->child == TRIE_NONE)
			return s;
		if (s->hash == h && s->parent == parent && s->label_len == len
		    && key_eq(strings + s->label_off, seg, len))
			return s;
	}
}

/* ---- validation of configured routes ---- */

static bool
valid_hostname(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > TRIE_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		      || c == '-' || c == '_'))
			return false;
		if (++label > TRIE_LABEL_MAX)
			return false;
	}
	return label > 0;
}

/* "[" hex digits, ':' and '.' (v4-mapped) "]". The data plane validates the real syntax. */
static bool
valid_ip_literal(const char *s, size_t n)
{
	if (n < 4 || n > 2 + 45 || s[0] != '[' || s[n - 1] != ']')
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = lower((unsigned char)s[i]);

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.'))
			return false;
	}
	return true;
}

static int
parse_host(const char *host, enum trie_host_kind *kind, const char **key, size_t *len)
{
	size_t n = strlen(host);

	if (n == 1 && host[0] == '*') {
		*kind = TRIE_HOST_ANY;
		*key = host;
		*len = 0;
		return 0;
	}
	*kind = TRIE_HOST_EXACT;
	if (n >= 2 && host[0] == '*' && host[1] == '.') {
		*kind = TRIE_HOST_WILD;
		host += 2;
		n -= 2;
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (*kind == TRIE_HOST_EXACT && n > 0 && host[0] == '[') {
		if (!valid_ip_literal(host, n))
			return -EINVAL;
	} else if (!valid_hostname(host, n)) {
		return -EINVAL;
	}
	*key = host;
	*len = n;
	return 0;
}

/* Returns the length to use (one trailing '/' dropped), or -EINVAL. */
static int
parse_path(const char *path, size_t *len)
{
	size_t n = strlen(path);

	if (n == 0 || path[0] != '/' || n > INT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x21 || c > 0x7e || c == '?' || c == '#')
			return -EINVAL;
		if (c == '/' && i > 0 && path[i - 1] == '/')
			return -EINVAL;
	}
	if (n > 1 && path[n - 1] == '/')
		n--;
	*len = n;
	return 0;
}

/* ---- builder ---- */

static void *
slots_new(uint32_t nslots, size_t size)
{
	void *p = malloc((size_t)nslots * size);

	/* all-ones: root/child == TRIE_NONE marks every slot empty */
	if (p != NULL)
		memset(p, 0xff, (size_t)nslots * size);
	return p;
}

struct trie_builder *
trie_builder_new(void)
{
	struct trie_builder *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->exact = slots_new(TRIE_MIN_SLOTS, sizeof(*b->exact));
	b->wild = slots_new(TRIE_MIN_SLOTS, sizeof(*b->wild));
	b->edges = slots_new(TRIE_MIN_SLOTS, sizeof(*b->edges));
	if (b->exact == NULL || b->wild == NULL || b->edges == NULL)
		goto fail;
	b->exact_mask = b->wild_mask = b->edge_mask = TRIE_MIN_SLOTS - 1;
	b->any_root = TRIE_NONE;
	return b;

fail:
	trie_builder_free(b);
	return NULL;
}

void
trie_builder_free(struct trie_builder *b)
{
	if (b == NULL)
		return;
	free(b->exact);
	free(b->wild);
	free(b->edges);
	free(b->nodes);
	free(b->strings);
	free(b);
}

/* Appends s lower-cased; returns its offset, or -ENOMEM. */
static int64_t
str_add(struct trie_builder *b, const char *s, size_t n)
{
	size_t off = b->str_len;

	if (b->str_len + n > UINT32_MAX)
		return -ENOMEM;
	if (b->str_len + n > b->str_cap) {
		size_t cap = b->str_cap ? b->str_cap * 2 : 1024;
		char *p;

		while (cap < b->str_len + n)
			cap *= 2;
		p = realloc(b->strings, cap);
		if (p == NULL)
			return -ENOMEM;
		b->strings = p;
		b->str_cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		b->strings[off + i] = (char)lower((unsigned char)s[i]);
	b->str_len += n;
	return (int64_t)off;
}

/* Returns the new node's index, or TRIE_NONE on ENOMEM. */
static uint32_t
node_new(struct trie_builder *b)
{
	if (b->nnodes == b->nodes_cap) {
		uint32_t cap = b->nodes_cap ? b->nodes_cap * 2 : 64;
		struct trie_node *p;

		if (cap >= TRIE_NONE / 2)
			return TRIE_NONE;
		p = realloc(b->nodes, (size_t)cap * sizeof(*p));
		if (p == NULL)
			return TRIE_NONE;
		b->nodes = p;
		b->nodes_cap = cap;
	}
	b->nodes[b->nnodes] = (struct trie_node){ .value = NULL, .nchild = 0 };
	return b->nnodes++;
}

/* Makes room for one more key (load stays <= 1/2). Returns 0 or -ENOMEM. */
static int
host_grow(struct trie_hslot **tab, uint32_t *mask, uint32_t count)
{
	uint32_t nslots = *mask + 1;
	struct trie_hslot *n;

	if ((count + 1) * 2 <= nslots)
		return 0;
	n = slots_new(nslots * 2, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < nslots; i++) {
		const struct trie_hslot *o = &(*tab)[i];
		uint32_t j;

		if (o->root == TRIE_NONE)
			continue;
		for (j = (uint32_t)o->hash & (nslots * 2 - 1); n[j].root != TRIE_NONE;
		     j = (j + 1) & (nslots * 2 - 1))
			;
		n[j] = *o;
	}
	free(*tab);
	*tab = n;
	*mask = nslots * 2 - 1;
	return 0;
}

static int
edge_grow(struct trie_builder *b)
{
	uint32_t nslots = b->edge_mask + 1;
	struct trie_eslot *n;

	if ((b->nedges + 1) * 2 <= nslots)
		return 0;
	n = slots_new(nslots * 2, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < nslots; i++) {
		const struct trie_eslot *o = &b->edges[i];
		uint32_t j;

		if (o->child == TRIE_NONE)
			continue;
		for (j = (uint32_t)o->hash & (nslots * 2 - 1); n[j].child != TRIE_NONE;
		     j = (j + 1) & (nslots * 2 - 1))
			;
		n[j] = *o;
	}
	free(b->edges);
	b->edges = n;
	b->edge_mask = nslots * 2 - 1;
	return 0;
}

/* Returns the root node of the host (created if new), or TRIE_NONE on ENOMEM. */
static uint32_t
host_root(struct trie_builder *b, enum trie_host_kind kind, const char *key, size_t len)
{
	struct trie_hslot **tab;
	uint32_t *mask, *count;
	struct trie_hslot *s;
	uint64_t h = host_hash(key, len);
	int64_t off;
	uint32_t root;

	if (kind == TRIE_HOST_ANY) {
		if (b->any_root == TRIE_NONE)
			b->any_root = node_new(b);
		return b->any_root;
	}
	tab = kind == TRIE_HOST_EXACT ? &b->exact : &b->wild;
	mask = kind == TRIE_HOST_EXACT ? &b->exact_mask : &b->wild_mask;
	count = kind == TRIE_HOST_EXACT ? &b->nexact : &b->nwild;

	s = (struct trie_hslot *)host_slot(*tab, *mask, b->strings, h, key, len);
	if (s->root != TRIE_NONE)
		return s->root;
	/* grow first so that a failure leaves the tables untouched */
	if (host_grow(tab, mask, *count) < 0)
		return TRIE_NONE;
	off = str_add(b, key, len);
	if (off < 0)
		return TRIE_NONE;
	root = node_new(b);
	if (root == TRIE_NONE)
		return TRIE_NONE;
	s = (struct trie_hslot *)host_slot(*tab, *mask, b->strings, h, key, len);
	*s = (struct trie_hslot){ .hash = h, .key_off = (uint32_t)off, .key_len = (uint32_t)len,
		.root = root };
	(*count)++;
	return root;
}

/* Returns the child of parent along seg (created if new), or TRIE_NONE on ENOMEM. */
static uint32_t
edge_child(struct trie_builder *b, uint32_t parent, const char *seg, size_t len)
{
	uint64_t h = seg_hash(parent, seg, len);
	struct trie_eslot *s;
	int64_t off;
	uint32_t child;

	s = (struct trie_eslot *)edge_slot(b->edges, b->edge_mask, b->strings, parent, h, seg, len);
	if (s->child != TRIE_NONE)
		return s->child;
	if (edge_grow(b) < 0)
		return TRIE_NONE;
	off = str_add(b, seg, len);
	if (off < 0)
		return TRIE_NONE;
	child = node_new(b);
	if (child == TRIE_NONE)
		return TRIE_NONE;
	s = (struct trie_eslot *)edge_slot(b->edges, b->edge_mask, b->strings, parent, h, seg, len);
	*s = (struct trie_eslot){ .hash = h, .parent = parent, .child = child,
		.label_off = (uint32_t)off, .label_len = (uint32_t)len };
	b->nedges++;
	b->nodes[parent].nchild++;
	return child;
}

int
trie_builder_add(struct trie_builder *b, const char *host, const char *path, const void *value)
{
	enum trie_host_kind kind;
	const char *key;
	size_t klen, plen, i;
	uint32_t node;
	int rc;

	if (b == NULL || host == NULL || path == NULL || value == NULL)
		return -EINVAL;
	rc = parse_host(host, &kind, &key, &klen);
	if (rc < 0)
		return rc;
	rc = parse_path(path, &plen);
	if (rc < 0)
		return rc;

	/*
	 * On ENOMEM half-way, the nodes created so far carry no value: invisible to lookups
	 * and reused by a retry, so the builder's routes are unchanged.
	 */
	node = host_root(b, kind, key, klen);
	for (i = 1; node != TRIE_NONE && i < plen;) {
		const char *seg = path + i;
		const char *slash = memchr(seg, '/', plen - i);
		size_t n = slash ? (size_t)(slash - seg) : plen - i;

		node = edge_child(b, node, seg, n);
		i += n + 1;
	}
	if (node == TRIE_NONE)
		return -ENOMEM;
	if (b->nodes[node].value != NULL)
		return -EEXIST;
	b->nodes[node].value = value;
	b->nroutes++;
	return 0;
}

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct trie *
trie_builder_finish(struct trie_builder *b)
{
	size_t exact_sz, wild_sz, edge_sz, node_sz, total;
	struct trie *t;
	char *p;

	if (b == NULL)
		return NULL;
	exact_sz = (size_t)(b->exact_mask + 1) * sizeof(struct trie_hslot);
	wild_sz = (size_t)(b->wild_mask + 1) * sizeof(struct trie_hslot);
	edge_sz = (size_t)(b->edge_mask + 1) * sizeof(struct trie_eslot);
	node_sz = (size_t)b->nnodes * sizeof(struct trie_node);
	total = align8(sizeof(*t)) + exact_sz + wild_sz + edge_sz + node_sz + b->str_len + 1;

	t = malloc(total);
	if (t == NULL) {
		trie_builder_free(b);
		return NULL;
	}
	p = (char *)t + align8(sizeof(*t));
	t->exact = memcpy(p, b->exact, exact_sz);
	p += exact_sz;
	t->wild = memcpy(p, b->wild, wild_sz);
	p += wild_sz;
	t->edges = memcpy(p, b->edges, edge_sz);
	p += edge_sz;
	t->nodes = node_sz ? memcpy(p, b->nodes, node_sz) : (void *)p;
	p += node_sz;
	if (b->str_len)
		memcpy(p, b->strings, b->str_len);
	p[b->str_len] = '\0';
	t->strings = p;
	t->exact_mask = b->exact_mask;
	t->nexact = b->nexact;
	t->wild_mask = b->wild_mask;
	t->nwild = b->nwild;
	t->edge_mask = b->edge_mask;
	t->nnodes = b->nnodes;
	t->any_root = b->any_root;
	t->nroutes = b->nroutes;
	trie_builder_free(b);
	return t;
}

void
trie_free(struct trie *t)
{
	free(t);
}

size_t
trie_route_count(const struct trie *t)
{
	return t ? t->nroutes : 0;
}

/* ---- lookup (hot path) ---- */

/* Returns the path-trie root of the host that serves this request, or TRIE_NONE. */
static uint32_t
select_host(const struct trie *t, const char *host, size_t len)
{
	/* one probe per dot: a DNS name has at most 126 dots in 253 bytes */
	uint64_t dh[TRIE_HOST_MAX / 2 + 1];
	uint32_t dpos[TRIE_HOST_MAX / 2 + 1];
	unsigned nd = 0;
	uint64_t h = FNV64_BASIS;
	const struct trie_hslot *s;
	const char *c;

	if (len == 0)
		return t->any_root;
	if (host[0] == '[') {
		c = memchr(host, ']', len);
		if (c == NULL)
			return t->any_root;
		len = (size_t)(c - host) + 1;
	} else if ((c = memchr(host, ':', len)) != NULL) {
		len = (size_t)(c - host);
	}
	if (len > 0 && host[len - 1] == '.')
		len--;
	/* a name no configured host can have (empty, too long) can only be served by "*" */
	if (len == 0 || len > TRIE_HOST_MAX)
		return t->any_root;

	for (size_t i = len; i-- > 0;) {
		unsigned char ch = lower((unsigned char)host[i]);

		/* "*.s" needs a non-empty label in front of ".s", and s non-empty */
		if (ch == '.' && t->nwild && i > 0 && i + 1 < len && host[i - 1] != '.') {
			dh[nd] = h;
			dpos[nd] = (uint32_t)i + 1;
			nd++;
		}
		h = (h ^ ch) * FNV64_PRIME;
	}
	if (t->nexact) {
		s = host_slot(t->exact, t->exact_mask, t->strings, fmix64(h), host, len);
		if (s->root != TRIE_NONE)
			return s->root;
	}
	/* the left-most dot gives the longest suffix: probe it first */
	while (nd-- > 0) {
		s = host_slot(t->wild, t->wild_mask, t->strings, fmix64(dh[nd]), host + dpos[nd],
			len - dpos[nd]);
		if (s->root != TRIE_NONE)
			return s->root;
	}
	return t->any_root;
}

const void *
trie_lookup(const struct trie *t, const char *host, size_t host_len, const char *path,
	size_t path_len)
{
	const struct trie_node *nd;
	const void *best;
	const char *q;
	uint32_t node;
	size_t i;

	if (t == NULL)
		return NULL;
	node = select_host(t, host, host_len);
	if (node == TRIE_NONE)
		return NULL;
	if (path_len == 0 || path[0] != '/')
		return NULL;
	q = memchr(path, '?', path_len);
	if (q != NULL)
		path_len = (size_t)(q - path);

	nd = &t->nodes[node];
	best = nd->value;
	for (i = 1; i < path_len && nd->nchild > 0;) {
		const char *seg = path + i;
		const char *slash = memchr(seg, '/', path_len - i);
		size_t n = slash ? (size_t)(slash - seg) : path_len - i;
		const struct trie_eslot *s;

		/* no route has an empty segment ("//" or a trailing '/') */
		if (n == 0)
			break;
		s = edge_slot(t->edges, t->edge_mask, t->strings, node, seg_hash(node, seg, n), seg,
			n);
		if (s->child == TRIE_NONE)
			break;
		node = s->child;
		nd = &t->nodes[node];
		if (nd->value != NULL)
			best = nd->value;
		i += n + 1;
	}
	return best;
}
