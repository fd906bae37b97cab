/* Tunnels after 101 (core/proxy/tunnel.c): two pumps, bytes both ways until one side ends. */
#ifndef RINGEDGE_CORE_PROXY_TUNNEL_H
#define RINGEDGE_CORE_PROXY_TUNNEL_H

#include "core/io/conn-t.h"

/* The 101 went out to client c: start moving bytes both ways. */
void tunnel_start(struct conn *c);

#endif
