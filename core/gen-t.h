/*
 * A configuration generation: the immutable config plus what is derived from it for serving
 * (one routing trie per listener). Published by the control thread through an atomic pointer
 * read under QSBR; connections that outlive a loop iteration hold a reference (refs), so a
 * reload only swaps the pointer and the old generation is freed by its last user.
 */
#ifndef RINGEDGE_CORE_GEN_T_H
#define RINGEDGE_CORE_GEN_T_H

#include <stdatomic.h>

#include "config/config-t.h"

struct trie;

struct generation {
	_Atomic unsigned	 refs;		/* control's publish ref + one per holder */
	unsigned		 id;		/* 1, 2, ... for logs */
	struct config		*cfg;		/* owned */
	struct trie		**tries;	/* [cfg->nlisteners], owned */
};

#endif
