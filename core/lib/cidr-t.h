/* CIDR network lists: types (core/lib/cidr.h has the functions). */
#ifndef RINGEDGE_CORE_LIB_CIDR_T_H
#define RINGEDGE_CORE_LIB_CIDR_T_H

#include <stdint.h>

/* A network, held as IPv6 (IPv4 v4-mapped: ::ffff:a.b.c.d, prefix + 96). */
struct cidr {
	uint8_t		 addr[16];	/* network address, host bits zero */
	uint8_t		 bits;		/* 0..128 */
};

struct cidr_list {
	struct cidr	*v;		/* calloc'd; cidr_list_free() */
	int		 n;
};

#endif
