/* The signal registry: the one owner of every process-wide signal handler
 * weft installs for delivery to loops (weft_run's SIGINT, weft_signal_wait).
 * This is the core's interface for those users, io's signal.c included; it
 * exposes no loop or task state.
 *
 * A user takes a slot with an eventfd of its own and says which signals the
 * slot wants; the registry installs its handler for a signal when the first
 * slot wants it and puts the previous disposition back when the last stops.
 * The handler (async-signal-safe) marks the signal pending in each slot that
 * wants it and writes 1 to the slot's eventfd; the user reads the eventfd
 * and takes the pending bits. Waiter slots come first: a signal goes to the
 * fallback slots (weft_run's "SIGINT cancels main") only when no waiter slot
 * wants it. */
#ifndef WEFT_CORE_SIGREG_H
#define WEFT_CORE_SIGREG_H

#include <signal.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

enum { WEFT__SIG_WAITER, WEFT__SIG_FALLBACK };

/* Signals 1..64 as bits of a mask. */
static inline uint64_t weft__sig_bit(int sig) { return (uint64_t)1 << (sig - 1); }

/* Takes a slot (rank: WEFT__SIG_WAITER or WEFT__SIG_FALLBACK) poked through
 * efd, which the caller keeps open until weft__sig_detach returns. The slot
 * number, or -EAGAIN when every slot is taken. */
int weft__sig_attach(int efd, int rank);
/* Stops wanting every signal and frees the slot. On return no handler is
 * writing to the slot's eventfd or ever will, so the caller may close it. */
void weft__sig_detach(int slot);
/* The slot wants sig (1..64; idempotent). With only_if_default, only when
 * sig had its default action before weft took it: returns 1 and wants
 * nothing otherwise (a handler or SIG_IGN of the user's is left alone).
 * 0, 1, or -errno from sigaction. */
int weft__sig_want(int slot, int sig, int only_if_default);
/* The slot no longer wants sig (idempotent); its pending mark is dropped. */
void weft__sig_unwant(int slot, int sig);
/* The signals that came for the slot since the last call, as bits; clears
 * them. */
uint64_t weft__sig_take(int slot);

/* A handler of weft's own outside the slots (debug mode's SIGUSR1 dump,
 * which must run in the handler itself). Installs sa for sig only when sig
 * has its default action (or sa's handler is already there), saving the
 * disposition before it in *old; 1 if installed, else 0. Under the
 * registry's lock, so it never interleaves with a slot's save and restore. */
int weft__sig_own(int sig, const struct sigaction *sa, struct sigaction *old);
/* Undoes weft__sig_own: puts *old back if sa's handler is still installed;
 * if the registry replaced it meanwhile (a slot wants sig), what the
 * registry will put back becomes *old, so the handler never returns after
 * its owner has gone. */
void weft__sig_disown(int sig, const struct sigaction *sa, const struct sigaction *old);

#pragma GCC visibility pop
#endif
