// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * maplecheck: the maple tree under a deterministic scheduler.
 *
 * This file is a separate build of the shim (build.py, flavour "rcu"): it
 * includes the scaffolding's headers, then rcu_sched.h (which turns the
 * tree's shared-memory points and RCU primitives into calls to the scheduler
 * below), then shim.c, which includes lib/maple_tree.c.  The kernel file is
 * unchanged.
 *
 * One writer and up to MC_MAXREADERS readers run as coroutines (ucontext) on
 * one OS thread.  The writer runs a list of write operations on tree 0
 * through the batch runner; each reader runs a list of read operations with
 * its own ma_state.  At every scheduling point the running coroutine yields
 * to the scheduler, which picks who runs next:
 *   - when only one coroutine can run, it runs (no decision is recorded);
 *   - otherwise decision k takes sched[k] when k < nsched (and that coroutine
 *     can run), else PCT priorities when pct_depth > 0, else the default:
 *     the coroutine that ran last keeps running, or the lowest-numbered one.
 * Every decision's set of runnable coroutines and its choice are recorded, so
 * any run (PCT included) replays exactly from its recorded choices.
 *
 * Fairness and endless loops: a reader past MC_READER_PATIENCE points while
 * the writer can run hands over to the writer (not a decision: a real reader
 * would eventually be overtaken); a reader past MC_READER_LIMIT points, or a
 * writer past MC_WRITER_LIMIT, is abandoned and reported.
 *
 * Grace periods: each coroutine has a read-side nesting depth.  call_rcu
 * records the set of coroutines inside a read-side section, plus the writer
 * while its operations run.  Callbacks run (from the scheduler, between two
 * coroutine steps) once that set is empty; rcu_barrier and the end of a run
 * run all of them.
 */

/* Must come first: pulls generated/autoconf.h, which sets CONFIG_64BIT. */
#include <linux/kconfig.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <ucontext.h>

void mc_dump_stack(void);
#define dump_stack() mc_dump_stack()

/* the tree's own harness configuration (debug/search options, kfree_rcu glue) */
#include "maple-shared.h"
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/maple_tree.h>
/* everything lib/maple_tree.c includes, so no header redefines our macros later */
#include <linux/xarray.h>
#include <linux/types.h>
#include <linux/export.h>
#include <linux/limits.h>
#include <asm/barrier.h>
#include <trace/events/maple_tree.h>

#include "rcu_sched.h"

#include "shim.c"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#define MC_ASAN 1
#else
#define MC_ASAN 0
#endif

#define MC_MAXREADERS 3
#define MC_MAXCO (MC_MAXREADERS + 1)
#define MC_STACK (1L << 20)
#define MC_READER_PATIENCE 5000L
#define MC_READER_LIMIT 50000L
#define MC_WRITER_LIMIT 5000000L
#define MC_MAXCB 4096

enum { MC_CO_IDLE = 0, MC_CO_RUNNABLE, MC_CO_DONE, MC_CO_ABANDONED };

struct mc_co {
	ucontext_t ctx;
	void *stack;
	int state;
	int nest;		/* read-side nesting depth */
	long points;
	const u64w *ops;	/* 6 words per op */
	long nops;
	u64w *res;		/* 4 words per op */
	void *asan_fake;
};

struct mc_cb {
	struct rcu_head *head;
	void (*fn)(struct rcu_head *);
	unsigned int wait;	/* coroutines still to leave their section */
};

static struct mc_co mc_co[MC_MAXCO];
static int mc_nco;
static int mc_cur = -1;		/* running coroutine; -1: the scheduler/outside */
static int mc_ran_last = -1;
static ucontext_t mc_main_ctx;
static const void *mc_main_bottom;
static size_t mc_main_size;
static struct mc_tree *mc_rt;	/* the tree of the run */
static long mc_hits[MC_SP_KINDS];
static struct mc_cb mc_cbs[MC_MAXCB];
static long mc_ncb;
static int mc_main_nest;

/* ------------------------------------------------------------ grace periods */

/* The coroutines that hold up a callback queued now. */
static unsigned int mc_readers_inside(void)
{
	unsigned int m = 0;
	int i;

	for (i = 0; i < mc_nco; i++)
		if (mc_co[i].nest > 0 || (i == 0 && mc_co[0].state == MC_CO_RUNNABLE))
			m |= 1u << i;
	return m;
}

/* Run every queued callback whose wait set is empty (all when force). */
static void mc_run_callbacks(int force)
{
	long i, kept = 0;
	int again = 1;

	while (again) {
		again = 0;
		kept = 0;
		for (i = 0; i < mc_ncb; i++) {
			struct mc_cb cb = mc_cbs[i];

			if (force || !cb.wait) {
				long before = mc_ncb;

				mc_cb_running = (void *)cb.fn;
				cb.fn(cb.head);
				mc_cb_running = NULL;
				if (mc_ncb != before)
					again = 1;	/* a callback queued more */
			} else {
				mc_cbs[kept++] = cb;
			}
		}
		/* callbacks queued while running sit after the old end */
		if (again) {
			memmove(mc_cbs + kept, mc_cbs + i, (mc_ncb - i) * sizeof(*mc_cbs));
			mc_ncb = kept + (mc_ncb - i);
		} else {
			mc_ncb = kept;
		}
	}
}

/*
 * Queue fn(head) for after a grace period.  Like every call_rcu (the kernel's
 * and liburcu's), this writes the callback into the head and links the head
 * into the pending list at once, before the grace period: in a maple node the
 * head lies over the first words after the parent (pivots 0 and 1 of a range
 * node), so a reader still using a node queued for freeing reads these words,
 * and only its dead-node re-check tells it not to trust them.
 */
void mc_call_rcu(struct rcu_head *head, void (*fn)(struct rcu_head *))
{
	if (mc_ncb >= MC_MAXCB) {
		fprintf(stderr, "maplecheck: too many pending RCU callbacks\n");
		abort();
	}
	head->next.next = NULL;
	head->func = fn;
	if (mc_ncb > 0)
		mc_cbs[mc_ncb - 1].head->next.next = &head->next;
	mc_cbs[mc_ncb].head = head;
	mc_cbs[mc_ncb].fn = fn;
	mc_cbs[mc_ncb].wait = mc_cur < 0 ? 0 : mc_readers_inside();
	mc_ncb++;
	mc_sp_store(MC_SP_CALL_RCU);
}

void mc_rcu_barrier(void)
{
	if (mc_cur < 0)
		mc_run_callbacks(1);
}

void mc_rcu_read_lock(void)
{
	if (mc_cur < 0)
		mc_main_nest++;
	else
		mc_co[mc_cur].nest++;
}

void mc_rcu_read_unlock(void)
{
	long i;

	if (mc_cur < 0) {
		mc_main_nest--;
		return;
	}
	if (--mc_co[mc_cur].nest)
		return;
	for (i = 0; i < mc_ncb; i++)
		mc_cbs[i].wait &= ~(1u << mc_cur);
}

/* ------------------------------------------------------------ switching */

static void mc_switch(ucontext_t *from, ucontext_t *to, void **save,
		      const void *bottom, size_t size)
{
#if MC_ASAN
	__sanitizer_start_switch_fiber(save, bottom, size);
	swapcontext(from, to);
	__sanitizer_finish_switch_fiber(save ? *save : NULL, NULL, NULL);
#else
	swapcontext(from, to);
#endif
}

/* Give control back to the scheduler (from a coroutine). */
static void mc_yield(void)
{
	struct mc_co *c = &mc_co[mc_cur];

	mc_switch(&c->ctx, &mc_main_ctx, &c->asan_fake, mc_main_bottom, mc_main_size);
}

void mc_sp_store(int kind)
{
	if (mc_cur != 0)
		return;
	mc_hits[kind]++;
	mc_co[0].points++;
	mc_yield();
}

void mc_sp_load(int kind)
{
	if (mc_cur <= 0)
		return;
	mc_hits[kind]++;
	mc_co[mc_cur].points++;
	mc_yield();
}

/* ------------------------------------------------------------ readers */

/* One read operation with the reader's own ma_state; 4 result words. */
static void mc_reader_op(struct ma_state *mas, const u64w *op, u64w *r)
{
	struct maple_tree *mt = &mc_rt->mt;
	u64w code = op[0];
	void *entry = NULL;
	long ret;

	r[0] = r[1] = r[2] = r[3] = 0;
	switch (code) {
	case OP_LOAD:
		r[0] = (u64w)mtree_load(mt, op[2]);
		return;
	case OP_WALK: {
		MA_STATE(w, mt, op[2], op[2]);

		rcu_read_lock();
		entry = mas_walk(&w);
		rcu_read_unlock();
		r[0] = (u64w)entry;
		r[1] = w.index;
		r[2] = w.last;
		return;
	}
	case OP_MAS_SET:
		mas_set(mas, op[2]);
		return;
	case OP_MAS_PAUSE:
		mas_pause(mas);
		return;
	case OP_EMPTY_AREA:
	case OP_EMPTY_AREA_REV: {
		MA_STATE(a, mt, 0, 0);

		rcu_read_lock();
		if (code == OP_EMPTY_AREA_REV)
			ret = mas_empty_area_rev(&a, op[2], op[3], op[4]);
		else
			ret = mas_empty_area(&a, op[2], op[3], op[4]);
		rcu_read_unlock();
		r[0] = (u64w)ret;
		r[1] = ret ? 0 : a.index;
		r[2] = ret ? 0 : a.last;
		return;
	}
	}
	if (code < OP_CURSOR0 || code >= OP_CURSOR0 + 8)
		return;
	rcu_read_lock();
	switch (code - OP_CURSOR0) {
	case MC_FIND: entry = mas_find(mas, op[2]); break;
	case MC_FIND_RANGE: entry = mas_find_range(mas, op[2]); break;
	case MC_NEXT: entry = mas_next(mas, op[2]); break;
	case MC_NEXT_RANGE: entry = mas_next_range(mas, op[2]); break;
	case MC_PREV: entry = mas_prev(mas, op[2]); break;
	case MC_PREV_RANGE: entry = mas_prev_range(mas, op[2]); break;
	case MC_FIND_REV: entry = mas_find_rev(mas, op[2]); break;
	case MC_FIND_RANGE_REV: entry = mas_find_range_rev(mas, op[2]); break;
	}
	rcu_read_unlock();
	r[0] = (u64w)entry;
	r[1] = mas->index;
	r[2] = mas->last;
	r[3] = mas->status;
}

/* The body of every coroutine: coroutine 0 writes, the others read. */
static void mc_co_body(void)
{
	int me = mc_cur;
	struct mc_co *c = &mc_co[me];
	long i;

#if MC_ASAN
	__sanitizer_finish_switch_fiber(NULL, &mc_main_bottom, &mc_main_size);
#endif
	if (me == 0) {
		struct mc_tree *trees[1] = { mc_rt };
		long ntrees = 1, bad = -1;
		int destroyed = 0;

		mc_batch_run(c->ops, c->nops, c->res, trees, &ntrees, 1, 0, &bad, &destroyed);
	} else {
		MA_STATE(mas, &mc_rt->mt, 0, 0);

		for (i = 0; i < c->nops; i++)
			mc_reader_op(&mas, c->ops + 6 * i, c->res + 4 * i);
	}
	c->state = MC_CO_DONE;
	/* a finished fiber: no fake stack to keep */
	mc_switch(&c->ctx, &mc_main_ctx, NULL, mc_main_bottom, mc_main_size);
	abort();	/* never resumed */
}

/* ------------------------------------------------------------ scheduling */

struct mc_plan {
	const unsigned char *sched;
	long nsched;
	int pct_depth;		/* 0: default policy after the schedule */
	unsigned long rng;
	long pct_change[8];	/* decision numbers where priorities change */
	int prio[MC_MAXCO];
	unsigned char *enabled;	/* out: per decision */
	unsigned char *chosen;
	long max_dec;
	long ndec;
	int diverged;		/* a scheduled choice could not run */
};

static unsigned long mc_rand(struct mc_plan *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

static void mc_pct_init(struct mc_plan *p, unsigned long seed, long len)
{
	int i, j, t;

	p->rng = seed * 2654435761UL + 0x9e3779b97f4a7c15UL;
	if (!p->rng)
		p->rng = 1;
	for (i = 0; i < mc_nco; i++)
		p->prio[i] = p->pct_depth + i;
	for (i = mc_nco - 1; i > 0; i--) {	/* shuffle the initial priorities */
		j = mc_rand(p) % (i + 1);
		t = p->prio[i];
		p->prio[i] = p->prio[j];
		p->prio[j] = t;
	}
	for (i = 0; i < p->pct_depth - 1 && i < 8; i++)
		p->pct_change[i] = len > 0 ? (long)(mc_rand(p) % len) : 0;
}

/* Who runs next; -1 when nobody can. */
static int mc_pick(struct mc_plan *p)
{
	unsigned int mask = 0;
	int i, c = -1, dflt;
	long k;

	for (i = 0; i < mc_nco; i++)
		if (mc_co[i].state == MC_CO_RUNNABLE || mc_co[i].state == MC_CO_IDLE)
			mask |= 1u << i;
	if (!mask)
		return -1;
	if ((mask & 1) && mc_ran_last > 0 && mc_co[mc_ran_last].points > MC_READER_PATIENCE)
		return 0;
	if (!(mask & (mask - 1)))
		return __builtin_ctz(mask);
	dflt = (mc_ran_last >= 0 && (mask & (1u << mc_ran_last))) ? mc_ran_last : __builtin_ctz(mask);
	k = p->ndec;
	if (k < p->nsched) {
		c = p->sched[k];
		if (c >= mc_nco || !(mask & (1u << c))) {
			p->diverged = 1;
			c = dflt;
		}
	} else if (p->pct_depth > 0) {
		int best = -1;

		for (i = 0; i < p->pct_depth - 1 && i < 8; i++)
			if (p->pct_change[i] == k && mc_ran_last >= 0)
				p->prio[mc_ran_last] = p->pct_depth - 1 - i;
		for (i = 0; i < mc_nco; i++)
			if ((mask & (1u << i)) && (best < 0 || p->prio[i] > p->prio[best]))
				best = i;
		c = best;
	} else {
		c = dflt;
	}
	if (k < p->max_dec) {
		p->enabled[k] = mask;
		p->chosen[k] = c;
	}
	p->ndec++;
	return c;
}

/* Run coroutine c until its next point; 1 when it was abandoned now. */
static int mc_step(int c)
{
	struct mc_co *co = &mc_co[c];

	if (co->state == MC_CO_IDLE) {
		getcontext(&co->ctx);
		co->ctx.uc_stack.ss_sp = co->stack;
		co->ctx.uc_stack.ss_size = MC_STACK;
		co->ctx.uc_link = NULL;
		makecontext(&co->ctx, mc_co_body, 0);
		co->state = MC_CO_RUNNABLE;
	}
	mc_cur = c;
	mc_ran_last = c;
	mc_switch(&mc_main_ctx, &co->ctx, &co->asan_fake, co->stack, MC_STACK);
	mc_cur = -1;
	if (co->state == MC_CO_RUNNABLE &&
	    co->points > (c ? MC_READER_LIMIT : MC_WRITER_LIMIT)) {
		co->state = MC_CO_ABANDONED;
		return 1;
	}
	return 0;
}

/*
 * One scheduled run.
 *   flags: the tree's creation flags; prefix[nprefix]: batch ops (6 words)
 *   run on tree 0 first, unscheduled (include set_rcu to be in RCU mode).
 *   wops[nw]: the writer's ops; rops: the readers' ops back to back,
 *   rcount[r] of them for reader r (nreaders <= MC_MAXREADERS).
 *   res: 4 words per op, writer first, then the readers in order.
 *   sched[nsched]: forced choices; pct_seed/pct_depth/pct_len: PCT after them.
 *   enabled/chosen[max_dec]: the decisions made; *ndec their count.
 *   hits[MC_SP_KINDS + 2]: points per kind, then the writer's and the
 *   readers' point totals.
 * Returns a bit set: 1 a reader was abandoned (endless loop), 2 the writer
 * was, 4 a scheduled choice could not be followed (divergence), 8 the tree
 * failed mt_validate after the run; or -1 for bad arguments or a prefix that
 * did not run.
 */
long mc_rcu_run(unsigned int flags, const u64w *prefix, long nprefix,
		const u64w *wops, long nw, const u64w *rops, const long *rcount,
		int nreaders, u64w *res, const unsigned char *sched, long nsched,
		unsigned long pct_seed, int pct_depth, long pct_len,
		unsigned char *enabled, unsigned char *chosen, long max_dec,
		long *ndec, long *hits)
{
	struct mc_plan plan = { .sched = sched, .nsched = nsched, .pct_depth = pct_depth,
				.enabled = enabled, .chosen = chosen, .max_dec = max_dec };
	struct mc_tree *trees[1];
	long ntrees = 1, bad = -1, off = 0, n, wpts = 0, rpts = 0;
	int destroyed = 0, i, c, status = 0;
	u64w *pres;

	mc_enter();
	if (nreaders < 0 || nreaders > MC_MAXREADERS || mc_cur >= 0)
		return -1;
	mc_rt = mc_create(flags);
	if (!mc_rt)
		return -1;
	trees[0] = mc_rt;
	pres = calloc(nprefix ? 4 * nprefix : 4, sizeof(*pres));
	n = mc_batch_run(prefix, nprefix, pres, trees, &ntrees, 1, 0, &bad, &destroyed);
	free(pres);
	mc_run_callbacks(1);
	if (n != nprefix || destroyed) {
		mc_destroy(mc_rt);
		return -1;
	}
	memset(mc_hits, 0, sizeof(mc_hits));
	mc_nco = nreaders + 1;
	for (i = 0; i < mc_nco; i++) {
		struct mc_co *co = &mc_co[i];

		if (!co->stack)
			co->stack = malloc(MC_STACK);
		co->state = MC_CO_IDLE;
		co->nest = 0;
		co->points = 0;
		co->asan_fake = NULL;
		if (i == 0) {
			co->ops = wops;
			co->nops = nw;
			co->res = res;
		} else {
			co->ops = rops + 6 * off;
			co->nops = rcount[i - 1];
			co->res = res + 4 * (nw + off);
			off += rcount[i - 1];
		}
	}
	if (pct_depth > 0)
		mc_pct_init(&plan, pct_seed, pct_len);
	mc_ran_last = -1;
	while ((c = mc_pick(&plan)) >= 0) {
		if (mc_step(c))
			status |= c ? 1 : 2;
		mc_run_callbacks(0);
	}
	if (plan.diverged)
		status |= 4;
	for (i = 0; i < mc_nco; i++) {
		if (i)
			rpts += mc_co[i].points;
		else
			wpts = mc_co[i].points;
		mc_co[i].nest = 0;
	}
	mc_nco = 0;
	mc_run_callbacks(1);
	if (!(status & 3) && mc_validate(mc_rt, NULL))
		status |= 8;
	*ndec = plan.ndec;
	for (i = 0; i < MC_SP_KINDS; i++)
		hits[i] = mc_hits[i];
	hits[MC_SP_KINDS] = wpts;
	hits[MC_SP_KINDS + 1] = rpts;
	if (status & 3) {
		/* an abandoned coroutine may hold the lock or be mid-walk: leak */
		free(mc_rt);
		mc_rt = NULL;
		return status;
	}
	mc_destroy(mc_rt);
	mc_rt = NULL;
	return status;
}

int mc_rcu_abi(void)
{
	return MC_SP_KINDS * 100 + MC_MAXREADERS;
}
