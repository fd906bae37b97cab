/*
 * Inside the connection layer (core/io/conn.c, core/io/conn_queued.c): the I/O path of a
 * transport with wire queues, and the SEND submission both paths share. Owner: c->w.
 */
#ifndef RINGEDGE_CORE_IO_CONN_INT_H
#define RINGEDGE_CORE_IO_CONN_INT_H

#include "core/io/conn-t.h"

struct io_uring_cqe;

/* Submits a SEND of c->out[out_off .. out_len). 0 or -EBUSY. */
int conn_submit_send(struct conn *c);

/* Encrypts what it can of the conn_send in progress and submits the oldest queued wire run,
 * unless a SEND is already in flight. 0 or -errno. */
int conn_queued_push(struct conn *c);

/* Arms a socket recv of wire bytes. 0 or -errno. */
int conn_queued_recv(struct conn *c);

/* OP_RECV / OP_SEND completion: 1 when the handler runs with *res, 0 when nothing is for it
 * yet (see conn_complete). */
int conn_queued_recv_done(struct conn *c, struct io_uring_cqe *cqe, int *res);
int conn_queued_send_done(struct conn *c, int *res);

#endif
