/*
 * A configuration generation: the immutable config plus what is derived from it for serving
 * (one routing trie per listener). Published by the control thread through an atomic pointer
 * read under QSBR; connections that outlive a loop iteration hold a reference (refs), so a
 * reload only swaps the pointer and the old generation is freed by its last user.
 */
#ifndef RINGEDGE_CORE_GEN_T_H
#define RINGEDGE_CORE_GEN_T_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "config/config-t.h"

struct trie;
struct bal_set;
struct tls_server;
struct tls_client;
struct tls_sess_slot;

/*
 * One bind address of the generation's listeners. fds: the listening sockets the control
 * thread opened for it at this reload, one per worker; each worker takes its own (sets its
 * entry to -1) when it adopts the generation; what is left is closed with the generation.
 * NULL: the bind already existed, workers keep their sockets.
 */
struct gen_bind {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	uint16_t		 lidx;		/* listener index in cfg */
	int			*fds;		/* [nworkers] or NULL */
};

struct generation {
	_Atomic unsigned	 refs;		/* control's publish ref + one per holder */
	unsigned		 id;		/* 1, 2, ... for logs */
	struct config		*cfg;		/* owned */
	struct trie		**tries;	/* [cfg->nlisteners], owned */
	struct bal_set		*bal;		/* balancing state of cfg's pools (a reference) */
	struct gen_bind		*binds;		/* [nbinds], every bind of every listener */
	int			 nbinds;
	int			 nworkers;
	/*
	 * TLS contexts built from cfg (certificates read at build time), freed with the
	 * generation. A TLS connection holds its own reference to the generation that built its
	 * context (conn->xg), so neither the context, the certificate it chose nor its session
	 * slot can be freed under it, whatever generation it routes with.
	 */
	struct tls_server	**tls_srv;	/* [cfg->nlisteners]: NULL for a plain listener */
	struct tls_client	**tls_cli;	/* [cfg->npools]: NULL for a plain pool */
	/* backend TLS sessions for resumption: [nworkers][nsrv], see gen_sess_slot() */
	struct tls_sess_slot	*tls_slots;
	unsigned		*srv_base;	/* [cfg->npools]: first server's index in a row */
	unsigned		 nsrv;		/* servers of all pools */
};

#endif
