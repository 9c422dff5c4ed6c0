// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * maplecheck: a thin C shim around the Linux maple tree (lib/maple_tree.c),
 * built in user space on the kernel's own test scaffolding
 * (tools/testing/shared, tools/include, liburcu).
 *
 * The kernel file is #included below so its static helpers (node decoding,
 * data end, metadata) are reachable for the structural dump.  Everything the
 * Python side needs is a plain C function with integer/pointer arguments, so
 * it can be loaded with ctypes (no compile step at import time).
 *
 * Conventions
 *   - Trees are opaque handles (struct mc_tree *).  Entries and indices are
 *     64-bit words; entry 0 means NULL.
 *   - Every write through this API (store_range, insert_range, erase,
 *     replace, set_rcu, alloc_range, alloc_rrange, and dup on the source
 *     tree) resets the tree's cursor with mas_set(cursor, cursor.index),
 *     whether the write succeeded or not.  The copy made by dup starts with
 *     a fresh cursor (index 0, status start).
 *   - Writes hold the tree lock (mtree_* take it themselves; the mas_* based
 *     ones here take mtree_lock()).  Reads run under rcu_read_lock().
 *
 * Allocation-failure injection (used by dup only)
 *   - mc_dup(t, fail_at, &new): when fail_at > 0 a counter starts at 0 as the
 *     dup begins.  Every maple node requested from the node cache counts one.
 *     A node request is one call that takes nodes from the node cache:
 *       - a single-node allocation (mt_alloc_one: kmem_cache_alloc): 1 node;
 *       - without sheaves (6.12): a bulk allocation (mt_alloc_bulk:
 *         kmem_cache_alloc_bulk) of n nodes: n nodes;
 *       - with sheaves (7.x, detected as MC_HAVE_SHEAVES): a sheaf prefill
 *         (mt_get_sheaf: kmem_cache_prefill_sheaf) of n nodes: n nodes; a
 *         sheaf refill (mt_refill_sheaf: kmem_cache_refill_sheaf) up to n:
 *         the nodes it adds, n - (nodes already in the sheaf), or n when the
 *         sheaf is replaced by a larger one; a refill the sheaf already
 *         satisfies takes nothing and is not a request.  Taking a node out of
 *         a sheaf the state holds (kmem_cache_alloc_from_sheaf) is not a
 *         request: it was counted when the sheaf was filled.
 *     The single request whose range of counted nodes contains the fail_at-th
 *     node fails as a whole (all-or-nothing: a bulk request returns 0 nodes, a
 *     prefill no sheaf, a refill -ENOMEM and leaves the sheaf as it was).
 *     Requests before and after it are served normally.  Injection ends when
 *     dup returns.  fail_at == 0 disables injection.
 *   - mc_live_nodes() reports the node cache's live object count
 *     (allocated and not yet freed), optionally after rcu_barrier() so that
 *     RCU-deferred frees have run.  A ma_state's sheaf is returned to the
 *     cache (freed) before every API call here returns, so nodes held in a
 *     sheaf are never counted as leaks; nodes that are lost are.  A node the
 *     kernel releases with kfree() (7.x: an unused single allocation) goes
 *     back to the node cache, as the kernel's slab does.
 *
 * Validation
 *   - mc_validate() runs mt_validate() with a capturing dump_stack(): each
 *     failed check is recorded (its message text, taken from the kernel's
 *     printk output; the accompanying tree dump is suppressed) and
 *     validation continues.  Outside mc_validate() a failed check is a real
 *     kernel BUG and aborts the process.
 */

/*
 * The tree's own harness decides the configuration: maple-shared.h (from the
 * tree's tools/testing/shared) sets the maple tree's debug/search options and
 * pulls the scaffolding; its maple-shim.c (included below, after our
 * allocation wrappers) includes lib/maple_tree.c and adds whatever glue that
 * kernel version needs (an RCU free callback on 7.x).  build.py takes the
 * include paths and defines from the tree's radix-tree Makefile and shared.mk
 * and passes the detected features as MC_HAVE_* macros.
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
#include <time.h>

void mc_dump_stack(void);
#define dump_stack() mc_dump_stack()

#include "maple-shared.h"
#include <linux/slab.h>
#include <linux/maple_tree.h>

/* ------------------------------------------------------------ printk capture */

int mc_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#undef printk
#undef pr_err
#undef pr_info
#undef pr_debug
#undef pr_cont
#undef pr_warn
#define printk mc_printk
#define pr_err mc_printk
#define pr_info mc_printk
#define pr_debug mc_printk
#define pr_cont mc_printk
#define pr_warn mc_printk

#define MC_CAPTURE_SIZE (64 * 1024)
static int mc_capturing;		/* inside mc_validate() */
static int mc_in_tree_dump;		/* between mt_dump's header and "Pass:" */
static unsigned long mc_failures;	/* dump_stack() calls while capturing */
static char mc_capture[MC_CAPTURE_SIZE];
static size_t mc_capture_len;

static void mc_capture_append(const char *s, size_t n)
{
	if (mc_capture_len + n >= MC_CAPTURE_SIZE - 1)
		n = MC_CAPTURE_SIZE - 1 - mc_capture_len;
	memcpy(mc_capture + mc_capture_len, s, n);
	mc_capture_len += n;
	mc_capture[mc_capture_len] = 0;
}

int mc_printk(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	/*
	 * A failed check prints "BUG/WARN at ...", then dumps the whole tree
	 * (starting with a "maple_tree(" header line), then a "Pass:" line.
	 * The tree dump is noise here; keep the rest.
	 */
	if (!strncmp(fmt, "maple_tree(", 11))
		mc_in_tree_dump = 1;
	if (mc_in_tree_dump) {
		if (!strncmp(fmt, "Pass: ", 6))
			mc_in_tree_dump = 0;
		if (mc_capturing)
			return 0;
	}
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return n;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (mc_capturing)
		mc_capture_append(buf, n);
	else
		fwrite(buf, 1, n, stderr);
	return n;
}

void mc_dump_stack(void)
{
	if (mc_capturing) {
		mc_failures++;
		mc_capture_append("\x1e", 1);	/* record separator */
		return;
	}
	fflush(stderr);
	fprintf(stderr, "maplecheck: kernel BUG (dump_stack) outside validation\n");
	fflush(stderr);
	abort();
}

/* ------------------------------------------------- node allocation wrappers */

static long mc_fail_at;		/* 0: no injection */
static long mc_alloc_count;	/* nodes requested since injection started */

/*
 * Count one node request of @n nodes; true when it is the request that must
 * fail (its range of counted nodes holds the fail_at-th node).
 */
static bool mc_request_fails(long n)
{
	long first;

	if (mc_fail_at <= 0 || n <= 0)
		return false;
	first = mc_alloc_count + 1;
	mc_alloc_count += n;
	return first <= mc_fail_at && mc_fail_at <= mc_alloc_count;
}

/*
 * The live nodes: every node the kernel file has taken from the node cache and
 * not yet given back, in an open-addressing set of addresses (linear probing,
 * deletion by shifting back).  A free of anything else (a wrong pointer, or a
 * node freed twice) aborts at once, naming it.  The ASan build sees such frees
 * by itself (and its report names the frames triage reads, so the set is left
 * out there); the optimised one would only corrupt its heap quietly and crash
 * examples later, where the trace of the crashing example does not replay.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MC_LIVE_SET 0
#else
#define MC_LIVE_SET 1
#endif
static struct kmem_cache *mc_node_cache;	/* maple_node_cache, set by mc_init */
static void *mc_cb_running;		/* the RCU callback running now, NULL outside one */
static const char *mc_cb_name(void *fn);	/* its name (after the kernel file) */
static uintptr_t *mc_live;
static size_t mc_live_cap, mc_live_len;

static size_t mc_live_slot(uintptr_t a)
{
	return (size_t)((a >> 8) * 0x9E3779B97F4A7C15ull) & (mc_live_cap - 1);
}

static void mc_live_add(void *obj);

static void mc_live_grow(void)
{
	uintptr_t *old = mc_live;
	size_t i, cap = mc_live_cap;

	mc_live_cap = cap ? 2 * cap : 1 << 12;
	mc_live = calloc(mc_live_cap, sizeof(*mc_live));
	if (!mc_live) {
		fprintf(stderr, "maplecheck: out of memory for the live-node set\n");
		abort();
	}
	mc_live_len = 0;
	for (i = 0; i < cap; i++)
		if (old[i])
			mc_live_add((void *)old[i]);
	free(old);
}

static void mc_live_add(void *obj)
{
	size_t i;

	if (!MC_LIVE_SET || !obj)
		return;
	if (2 * (mc_live_len + 1) > mc_live_cap)
		mc_live_grow();
	for (i = mc_live_slot((uintptr_t)obj); mc_live[i]; i = (i + 1) & (mc_live_cap - 1))
		if (mc_live[i] == (uintptr_t)obj)
			return;
	mc_live[i] = (uintptr_t)obj;
	mc_live_len++;
}

static void mc_live_remove(void *obj)
{
	size_t mask = mc_live_cap - 1, i, j, k;

	if (!MC_LIVE_SET)
		return;
	for (i = mc_live_cap ? mc_live_slot((uintptr_t)obj) : 0; mc_live_cap && mc_live[i];
	     i = (i + 1) & mask)
		if (mc_live[i] == (uintptr_t)obj)
			break;
	if (!mc_live_cap || !mc_live[i]) {
		fprintf(stderr, "maplecheck: kernel BUG: free of %p, which is not a live maple node "
			"(a wrong pointer, or a node freed twice)%s%s\n", obj,
			mc_cb_running ? ", in the RCU callback " : "",
			mc_cb_running ? mc_cb_name(mc_cb_running) : "");
		fflush(stderr);
		abort();
	}
	/* empty slot i, then move back every later entry of the run whose home is not in (i, j] */
	mc_live[i] = 0;
	for (j = (i + 1) & mask; mc_live[j]; j = (j + 1) & mask) {
		k = mc_live_slot(mc_live[j]);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		mc_live[i] = mc_live[j];
		mc_live[j] = 0;
		i = j;
	}
	mc_live_len--;
}

static void *mc_node_alloc(struct kmem_cache *cache, gfp_t gfp)
{
	void *obj;

	if (mc_request_fails(1))
		return NULL;
	obj = kmem_cache_alloc_lru(cache, NULL, gfp);
	if (cache == mc_node_cache)
		mc_live_add(obj);
	return obj;
}

static void mc_node_free(struct kmem_cache *cache, void *obj)
{
	if (obj && cache == mc_node_cache)
		mc_live_remove(obj);
	kmem_cache_free(cache, obj);
}

static void mc_node_free_bulk(struct kmem_cache *cache, size_t size, void **list)
{
	size_t i;

	if (cache == mc_node_cache)
		for (i = 0; i < size; i++)
			mc_live_remove(list[i]);
	kmem_cache_free_bulk(cache, size, list);
}

#ifdef MC_HAVE_SHEAVES
static struct slab_sheaf *mc_prefill_sheaf(struct kmem_cache *cache, gfp_t gfp,
					   unsigned int size)
{
	if (mc_request_fails(size))
		return NULL;
	return kmem_cache_prefill_sheaf(cache, gfp, size);
}

/* the nodes a refill takes from the cache: none if the sheaf holds enough */
static long mc_refill_count(struct slab_sheaf *sheaf, unsigned int size)
{
	if (kmem_cache_sheaf_size(sheaf) >= size)
		return 0;
	if (size > sheaf->capacity)
		return size;	/* replaced by a new sheaf of @size nodes */
	return size - kmem_cache_sheaf_size(sheaf);
}

static int mc_refill_sheaf(struct kmem_cache *cache, gfp_t gfp,
			   struct slab_sheaf **sheafp, unsigned int size)
{
	if (mc_request_fails(mc_refill_count(*sheafp, size)))
		return -ENOMEM;
	return kmem_cache_refill_sheaf(cache, gfp, sheafp, size);
}

/* a node taken out of a sheaf is live from then on (the rest go back with the sheaf) */
static void *mc_alloc_from_sheaf(struct kmem_cache *cache, gfp_t gfp, struct slab_sheaf *sheaf)
{
	void *obj = kmem_cache_alloc_from_sheaf(cache, gfp, sheaf);

	if (cache == mc_node_cache)
		mc_live_add(obj);
	return obj;
}

#define kmem_cache_alloc_from_sheaf(cache, gfp, sheaf) mc_alloc_from_sheaf(cache, gfp, sheaf)
#define kmem_cache_prefill_sheaf(cache, gfp, size) mc_prefill_sheaf(cache, gfp, size)
#define kmem_cache_refill_sheaf(cache, gfp, sheafp, size) \
	mc_refill_sheaf(cache, gfp, sheafp, size)
#else
static int mc_node_alloc_bulk(struct kmem_cache *cache, gfp_t gfp, size_t size,
			      void **list)
{
	int got, i;

	if (mc_request_fails(size))
		return 0;
	got = kmem_cache_alloc_bulk(cache, gfp, size, list);
	if (cache == mc_node_cache)
		for (i = 0; i < got; i++)
			mc_live_add(list[i]);
	return got;
}

#define kmem_cache_alloc_bulk(cache, gfp, size, list) \
	mc_node_alloc_bulk(cache, gfp, size, list)
#endif

#define kmem_cache_alloc(cache, gfp) mc_node_alloc(cache, gfp)
#define kmem_cache_free(cache, obj) mc_node_free(cache, obj)
#define kmem_cache_free_bulk(cache, size, list) mc_node_free_bulk(cache, size, list)

/*
 * Inside the kernel file every kfree() frees a maple node (7.x frees a
 * node it did not use that way).  The kernel's kfree returns a slab object
 * to its cache; the scaffolding's kfree would free() it behind the node
 * cache's back and the live-node count would never drop.  Route it back.
 */
static void mc_kfree_node(void *node);
#define kfree(p) mc_kfree_node(p)

/* ------------------------------------------------------------ RCU callbacks */

#ifndef MC_RCU_SCHED_H
/*
 * Outside the interleaving build (rcu_shim.c, whose scheduler owns RCU) this
 * process runs one thread and no reader runs beside a writer, so a grace
 * period is over once the API call that queued a callback has returned.
 * call_rcu (and kfree_rcu, which the scaffolding builds on it) queues here,
 * writing the head into the node as every call_rcu does; the queue runs, in
 * order, at the start of the next API call (mc_enter) and at rcu_barrier.
 * Frees are therefore deterministic (a replay frees at the same places), and
 * rcu_barrier costs nothing, where liburcu's callback thread batches its
 * wake-ups 10 ms apart.
 */
static struct cds_wfcq_node *mc_cb_first;
static struct cds_wfcq_node **mc_cb_last = &mc_cb_first;

static void mc_queue_rcu(struct rcu_head *head, void (*fn)(struct rcu_head *))
{
	head->next.next = NULL;
	head->func = fn;
	*mc_cb_last = &head->next;
	mc_cb_last = &head->next.next;
}

static void mc_run_rcu(void)
{
	while (mc_cb_first) {
		struct rcu_head *head = caa_container_of(mc_cb_first, struct rcu_head, next);

		mc_cb_first = head->next.next;
		if (!mc_cb_first)
			mc_cb_last = &mc_cb_first;
		mc_cb_running = (void *)head->func;
		head->func(head);
		mc_cb_running = NULL;
	}
}

#undef call_rcu
#undef rcu_barrier
#define call_rcu(h, f) mc_queue_rcu(h, f)
#define rcu_barrier() mc_run_rcu()
#define MC_RCU_QUIESCENT() mc_run_rcu()
#else
#define MC_RCU_QUIESCENT() do { } while (0)
#endif

/* ------------------------------------------------------------ the kernel */

/* the tree's tools/testing/shared/maple-shim.c, which includes its lib/maple_tree.c */
#include MC_KERNEL_MAPLE_SHIM_C

#undef kmem_cache_alloc
#undef kmem_cache_alloc_bulk
#undef kfree
#undef kmem_cache_prefill_sheaf
#undef kmem_cache_refill_sheaf
#undef kmem_cache_alloc_from_sheaf
#undef kmem_cache_free
#undef kmem_cache_free_bulk

static void mc_kfree_node(void *node)
{
	if (node)
		mc_node_free(maple_node_cache, node);
}

/* the kernel's RCU callbacks, by name, for a bad free's report (triage reads it) */
static const char *mc_cb_name(void *fn)
{
	if (fn == (void *)mt_free_walk)
		return "mt_free_walk";
	return "(another callback)";
}

_Static_assert(sizeof(struct maple_node) == 256, "maple node must be 256 bytes (64-bit geometry)");
_Static_assert(MAPLE_RANGE64_SLOTS == 16, "64-bit geometry: 16 range slots");
_Static_assert(MAPLE_ARANGE64_SLOTS == 10, "64-bit geometry: 10 arange slots");
_Static_assert(sizeof(unsigned long) == 8, "64-bit build required");

/* ------------------------------------------------------------ trees */

struct mc_tree {
	struct maple_tree mt;
	struct ma_state cur;
};

typedef uint64_t u64w;

/* the scaffolding's allocator reads this; tools/lib/slab.c defines it where the harness links it */
int kmalloc_verbose __attribute__((weak));

static __thread int mc_registered;
static int mc_initialised;

/*
 * Register the calling thread with liburcu once.  liburcu's registration is
 * per thread and process-wide, shared by every adapter library loaded into
 * the process (one per kernel version): another adapter may have registered
 * this thread already, and registering twice aborts.
 */
static inline void mc_enter(void)
{
	if (!mc_registered) {
		if (!URCU_TLS(rcu_reader).registered)
			rcu_register_thread();
		mc_registered = 1;
	}
	MC_RCU_QUIESCENT();
}

int mc_init(void)
{
	mc_enter();
	if (!mc_initialised) {
		maple_tree_init();
		mc_node_cache = maple_node_cache;
		mc_initialised = 1;
	}
	return 0;
}

int mc_abi(void)
{
	/* bump when a signature or encoding below changes */
	return 2;
}

static void mc_cursor_init(struct mc_tree *t)
{
	MA_STATE(fresh, &t->mt, 0, 0);

	t->cur = fresh;
}

static inline void mc_cursor_reset(struct mc_tree *t)
{
	mas_set(&t->cur, t->cur.index);
}

struct mc_tree *mc_create(unsigned int flags)
{
	struct mc_tree *t;

	mc_init();
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	mt_init_flags(&t->mt, flags);
	mc_cursor_init(t);
	return t;
}

/*
 * mtree_destroy(), then wait for the RCU callbacks (rcu_barrier) so that the
 * nodes are really freed, in RCU mode too.  mc_destroy_nowait() leaves the
 * wait to the caller (one rcu_barrier after many destroys is much cheaper);
 * a grace period is only waited for when callbacks are pending.
 */
void mc_destroy_nowait(struct mc_tree *t)
{
	mc_enter();
	mtree_destroy(&t->mt);
	free(t);
}

void mc_destroy(struct mc_tree *t)
{
	mc_destroy_nowait(t);
	rcu_barrier();
}

unsigned long mc_live_nodes(int barrier)
{
	mc_enter();
	if (barrier)
		rcu_barrier();
	return kmem_cache_nr_allocated(maple_node_cache);
}

unsigned int mc_flags(struct mc_tree *t)
{
	return t->mt.ma_flags;
}

unsigned int mc_height(struct mc_tree *t)
{
	return mt_height(&t->mt);
}

/* ------------------------------------------------------------ writes */

long mc_store_range(struct mc_tree *t, u64w first, u64w last, u64w entry)
{
	long ret;

	mc_enter();
	ret = mtree_store_range(&t->mt, first, last, (void *)entry, GFP_KERNEL);
	mc_cursor_reset(t);
	return ret;
}

long mc_insert_range(struct mc_tree *t, u64w first, u64w last, u64w entry)
{
	long ret;

	mc_enter();
	ret = mtree_insert_range(&t->mt, first, last, (void *)entry, GFP_KERNEL);
	mc_cursor_reset(t);
	return ret;
}

u64w mc_erase(struct mc_tree *t, u64w index)
{
	void *old;

	mc_enter();
	old = mtree_erase(&t->mt, index);
	mc_cursor_reset(t);
	return (u64w)old;
}

/*
 * The exact-fit store dup_mmap() relies on: overwrite the entry of the range
 * holding @index, over exactly that range.  Refuses NULL and advanced
 * entries (-EINVAL) and empty ranges (-ENOENT) without changing anything.
 */
long mc_replace(struct mc_tree *t, u64w index, u64w entry, u64w *old_out)
{
	void *old;
	long ret = 0;
	MA_STATE(mas, &t->mt, index, index);

	mc_enter();
	*old_out = 0;
	if (!entry || xa_is_advanced((void *)entry)) {
		ret = -EINVAL;
		goto out;
	}
	mtree_lock(&t->mt);
	old = mas_walk(&mas);
	if (!old) {
		ret = -ENOENT;
	} else {
		ret = mas_store_gfp(&mas, (void *)entry, GFP_KERNEL);
		if (!ret)
			*old_out = (u64w)old;
	}
	mtree_unlock(&t->mt);
out:
	mc_cursor_reset(t);
	return ret;
}

void mc_set_rcu(struct mc_tree *t, int on)
{
	mc_enter();
	if (mt_external_lock(&t->mt)) {
		/* the caller "holds" the external lock: take ours for the flag */
		mtree_lock(&t->mt);
		if (on)
			t->mt.ma_flags |= MT_FLAGS_USE_RCU;
		else
			t->mt.ma_flags &= ~MT_FLAGS_USE_RCU;
		mtree_unlock(&t->mt);
	} else if (on) {
		mt_set_in_rcu(&t->mt);
	} else {
		mt_clear_in_rcu(&t->mt);
	}
	mc_cursor_reset(t);
}

long mc_alloc_range(struct mc_tree *t, int reverse, u64w size, u64w entry,
		    u64w min, u64w max, u64w *start_out)
{
	unsigned long start = 0;
	long ret;

	mc_enter();
	if (reverse)
		ret = mtree_alloc_rrange(&t->mt, &start, (void *)entry, size, min,
					 max, GFP_KERNEL);
	else
		ret = mtree_alloc_range(&t->mt, &start, (void *)entry, size, min,
					max, GFP_KERNEL);
	*start_out = ret ? 0 : start;
	mc_cursor_reset(t);
	return ret;
}

/*
 * __mt_dup (through mtree_dup, which takes both locks) into a fresh tree with
 * the same attributes.  The new tree is returned in *out even on failure
 * (empty then).  See the header comment for the fail_at semantics.
 */
long mc_dup(struct mc_tree *t, long fail_at, struct mc_tree **out)
{
	struct mc_tree *n;
	long ret;

	mc_enter();
	*out = NULL;
	n = mc_create(mt_attr(&t->mt));
	if (!n)
		return -ENOMEM;
	mc_alloc_count = 0;
	mc_fail_at = fail_at > 0 ? fail_at : 0;
	ret = mtree_dup(&t->mt, &n->mt, GFP_KERNEL);
	mc_fail_at = 0;
	mc_alloc_count = 0;
	mc_cursor_reset(t);
	*out = n;
	return ret;
}

/* ------------------------------------------------------------ reads */

u64w mc_load(struct mc_tree *t, u64w index)
{
	mc_enter();
	return (u64w)mtree_load(&t->mt, index);
}

/* out[0..2] = entry, first, last */
void mc_walk(struct mc_tree *t, u64w index, u64w *out)
{
	void *entry;
	MA_STATE(mas, &t->mt, index, index);

	mc_enter();
	rcu_read_lock();
	entry = mas_walk(&mas);
	rcu_read_unlock();
	out[0] = (u64w)entry;
	out[1] = mas.index;
	out[2] = mas.last;
}

enum mc_cursor_op {
	MC_FIND = 0, MC_FIND_RANGE, MC_NEXT, MC_NEXT_RANGE, MC_PREV,
	MC_PREV_RANGE, MC_FIND_REV, MC_FIND_RANGE_REV,
};

/* out[0..3] = entry, index, last, status */
void mc_cursor(struct mc_tree *t, int op, u64w limit, u64w *out)
{
	struct ma_state *mas = &t->cur;
	void *entry = NULL;

	mc_enter();
	rcu_read_lock();
	switch (op) {
	case MC_FIND: entry = mas_find(mas, limit); break;
	case MC_FIND_RANGE: entry = mas_find_range(mas, limit); break;
	case MC_NEXT: entry = mas_next(mas, limit); break;
	case MC_NEXT_RANGE: entry = mas_next_range(mas, limit); break;
	case MC_PREV: entry = mas_prev(mas, limit); break;
	case MC_PREV_RANGE: entry = mas_prev_range(mas, limit); break;
	case MC_FIND_REV: entry = mas_find_rev(mas, limit); break;
	case MC_FIND_RANGE_REV: entry = mas_find_range_rev(mas, limit); break;
	}
	rcu_read_unlock();
	out[0] = (u64w)entry;
	out[1] = mas->index;
	out[2] = mas->last;
	out[3] = mas->status;
}

void mc_mas_set(struct mc_tree *t, u64w index)
{
	mas_set(&t->cur, index);
}

void mc_mas_pause(struct mc_tree *t)
{
	mas_pause(&t->cur);
}

/* out[0..2] = ret, index, last (index = last = 0 when ret != 0) */
void mc_empty_area(struct mc_tree *t, int reverse, u64w min, u64w max,
		   u64w size, u64w *out)
{
	long ret;
	MA_STATE(mas, &t->mt, 0, 0);

	mc_enter();
	rcu_read_lock();
	if (reverse)
		ret = mas_empty_area_rev(&mas, min, max, size);
	else
		ret = mas_empty_area(&mas, min, max, size);
	rcu_read_unlock();
	out[0] = (u64w)ret;
	out[1] = ret ? 0 : mas.index;
	out[2] = ret ? 0 : mas.last;
}

/* ------------------------------------------------------------ validate */

/*
 * Run mt_validate() and capture what it reports.  Returns the number of
 * failed checks; *text points at the captured messages, one record per
 * failed check, records separated by '\x1e' (valid until the next call).
 */
static void mc_capture_begin(void)
{
	mc_enter();
	mc_capture_len = 0;
	mc_capture[0] = 0;
	mc_failures = 0;
	mc_in_tree_dump = 0;
	mc_capturing = 1;
}

/* ends a capture; returns the number of failed checks */
static long mc_capture_end(const char **text)
{
	mc_capturing = 0;
	mc_in_tree_dump = 0;
	if (text)
		*text = mc_capture;
	/* a stray message without a failed check still counts as a complaint */
	if (!mc_failures && mc_capture_len)
		return 1;
	return mc_failures;
}

long mc_validate(struct mc_tree *t, const char **text)
{
	mc_capture_begin();
	mtree_lock(&t->mt);
	rcu_read_lock();
	mt_validate(&t->mt);
	rcu_read_unlock();
	mtree_unlock(&t->mt);
	return mc_capture_end(text);
}

/* ------------------------------------------------------------ dump */

/*
 * Dump layout (64-bit words):
 *   header: flags(as stored), height, root_kind (0 empty, 1 entry, 2 node),
 *           root_value (raw word for kind 1, else 0), node_count
 *   then per node in DFS pre-order:
 *     type, min, max, end, parent_slot (~0 for the root),
 *     npiv, pivots[npiv], nslots, slots[nslots],
 *     and for arange_64 only: ngaps, gaps[ngaps], meta_gap
 *   Leaf slots are raw entry words (0 = NULL); internal slots are the
 *   pre-order index of the child.
 * Returns the number of words written, or -(words needed) when cap is too
 * small.
 */
struct mc_dumper {
	u64w *buf;
	long cap;
	long pos;
	long nodes;
};

static inline void mc_put(struct mc_dumper *d, u64w w)
{
	if (d->pos < d->cap)
		d->buf[d->pos] = w;
	d->pos++;
}

static long mc_dump_node(struct mc_dumper *d, struct maple_enode *enode,
			 unsigned long min, unsigned long max, u64w parent_slot)
{
	struct maple_node *node = mte_to_node(enode);
	enum maple_type type = mte_node_type(enode);
	unsigned long *pivots;
	void __rcu **slots;
	unsigned char npiv_max, end, npiv;
	long me = d->nodes++;
	long slot_pos;
	int i;

	if (type > maple_arange_64) {
		/* not a node any 6.12 tree can hold: the tree is corrupt */
		fprintf(stderr, "maplecheck: dump found node type %u at %p\n", type, enode);
		abort();
	}
	pivots = ma_pivots(node, type);
	slots = ma_slots(node, type);
	npiv_max = mt_pivots[type];
	end = ma_data_end(node, type, pivots, max);
	npiv = end < npiv_max ? end + 1 : npiv_max;

	mc_put(d, type);
	mc_put(d, min);
	mc_put(d, max);
	mc_put(d, end);
	mc_put(d, parent_slot);
	mc_put(d, npiv);
	for (i = 0; i < npiv; i++)
		mc_put(d, pivots[i]);
	mc_put(d, end + 1);
	slot_pos = d->pos;
	for (i = 0; i <= end; i++)
		mc_put(d, (u64w)slots[i]);
	if (type == maple_arange_64) {
		unsigned long *gaps = ma_gaps(node, type);

		mc_put(d, end + 1);
		for (i = 0; i <= end; i++)
			mc_put(d, gaps[i]);
		mc_put(d, ma_meta_gap(node));
	}
	if (!ma_is_leaf(type)) {
		unsigned long cmin = min, cmax;

		for (i = 0; i <= end; i++) {
			long child;

			cmax = i < npiv_max ? pivots[i] : max;
			child = mc_dump_node(d, slots[i], cmin, cmax, i);
			if (slot_pos + i < d->cap)
				d->buf[slot_pos + i] = child;
			cmin = cmax + 1;
		}
	}
	return me;
}

long mc_dump(struct mc_tree *t, u64w *buf, long cap)
{
	struct mc_dumper d = { .buf = buf, .cap = cap };
	void *root;
	long count_pos;

	mc_enter();
	mtree_lock(&t->mt);
	rcu_read_lock();
	root = rcu_dereference(t->mt.ma_root);
	mc_put(&d, t->mt.ma_flags);
	mc_put(&d, mt_height(&t->mt));
	if (!root) {
		mc_put(&d, 0);
		mc_put(&d, 0);
	} else if (!xa_is_node(root)) {
		mc_put(&d, 1);
		mc_put(&d, (u64w)root);
	} else {
		mc_put(&d, 2);
		mc_put(&d, 0);
	}
	count_pos = d.pos;
	mc_put(&d, 0);
	if (root && xa_is_node(root))
		mc_dump_node(&d, mte_safe_root(root), 0, ULONG_MAX, ~(u64w)0);
	if (count_pos < cap)
		buf[count_pos] = d.nodes;
	rcu_read_unlock();
	mtree_unlock(&t->mt);
	return d.pos <= cap ? d.pos : -d.pos;
}

/* ------------------------------------------------------------ batch */

/*
 * Opcodes of the batch entry point; the Python side keeps the same table.
 * An op is 6 words: opcode, tree number, a, b, c, d.  A result is 4 words.
 *   0 store_range(a=first, b=last, c=entry)  -> r0 = ret
 *   1 insert_range(a, b, c)                  -> r0 = ret
 *   2 erase(a=index)                         -> r0 = old entry
 *   3 replace(a=index, b=entry)              -> r0 = ret, r1 = old
 *   4 set_rcu(a=on)
 *   5 load(a)                                -> r0 = entry
 *   6 walk(a)                                -> r0 entry, r1 first, r2 last
 *   7 mas_set(a)  8 mas_pause
 *   9..16 cursor ops (enum mc_cursor_op + 9)(a=limit) -> r0..r3
 *  17 empty_area(a=min, b=max, c=size), 18 empty_area_rev -> r0 ret, r1, r2
 *  19 alloc_range(a=size, b=entry, c=min, d=max), 20 alloc_rrange -> r0 ret, r1 start
 *  21 dup(a=fail_at or 0)                    -> r0 ret, r1 new tree number
 *  22 destroy
 * Trees live in trees[0..*ntrees); dup appends (up to cap); destroy zeroes
 * the slot.  If the batch destroyed any tree it ends with one rcu_barrier(),
 * so when it returns every destroyed node is freed, as with mc_destroy().
 *
 * If validate is set, mt_validate runs (capturing) on the written tree after
 * every write op (and on the copy after dup); the batch stops after the first
 * op whose validation failed and *bad_op receives its position (else -1).
 * Returns the number of ops executed; a bad tree number, a bad opcode or a
 * full tree table stops the batch before that op and returns -(position + 1).
 */
enum {
	OP_STORE_RANGE = 0, OP_INSERT_RANGE, OP_ERASE, OP_REPLACE, OP_SET_RCU,
	OP_LOAD, OP_WALK, OP_MAS_SET, OP_MAS_PAUSE, OP_CURSOR0,
	OP_EMPTY_AREA = OP_CURSOR0 + 8, OP_EMPTY_AREA_REV, OP_ALLOC_RANGE,
	OP_ALLOC_RRANGE, OP_DUP, OP_DESTROY, OP_COUNT,
	OP_API_END = OP_COUNT + 10	/* the opcodes of shim_api.c */
};

static int mc_api_batch_op(struct mc_tree *t, u64w code, const u64w *op,
			   u64w *r);

static long mc_batch_run(const u64w *ops, long n, u64w *res,
			 struct mc_tree **trees, long *ntrees, long cap,
			 int validate, long *bad_op, int *destroyed)
{
	long i;

	for (i = 0; i < n; i++) {
		const u64w *op = ops + 6 * i;
		u64w *r = res + 4 * i;
		u64w code = op[0], tn = op[1];
		struct mc_tree *t, *check = NULL;

		if (tn >= (u64w)*ntrees || !trees[tn] || code >= OP_API_END)
			return -(i + 1);
		t = trees[tn];
		r[0] = r[1] = r[2] = r[3] = 0;
		switch (code) {
		case OP_STORE_RANGE:
			r[0] = mc_store_range(t, op[2], op[3], op[4]);
			check = t;
			break;
		case OP_INSERT_RANGE:
			r[0] = mc_insert_range(t, op[2], op[3], op[4]);
			check = t;
			break;
		case OP_ERASE:
			r[0] = mc_erase(t, op[2]);
			check = t;
			break;
		case OP_REPLACE:
			r[0] = mc_replace(t, op[2], op[3], &r[1]);
			check = t;
			break;
		case OP_SET_RCU:
			mc_set_rcu(t, op[2] != 0);
			check = t;
			break;
		case OP_LOAD:
			r[0] = mc_load(t, op[2]);
			break;
		case OP_WALK:
			mc_walk(t, op[2], r);
			break;
		case OP_MAS_SET:
			mc_mas_set(t, op[2]);
			break;
		case OP_MAS_PAUSE:
			mc_mas_pause(t);
			break;
		case OP_EMPTY_AREA:
		case OP_EMPTY_AREA_REV:
			mc_empty_area(t, code == OP_EMPTY_AREA_REV, op[2], op[3],
				      op[4], r);
			break;
		case OP_ALLOC_RANGE:
		case OP_ALLOC_RRANGE:
			r[0] = mc_alloc_range(t, code == OP_ALLOC_RRANGE, op[2],
					      op[3], op[4], op[5], &r[1]);
			check = t;
			break;
		case OP_DUP: {
			struct mc_tree *n;

			if (*ntrees >= cap)
				return -(i + 1);
			r[0] = mc_dup(t, (long)op[2], &n);
			trees[*ntrees] = n;
			r[1] = *ntrees;
			(*ntrees)++;
			check = t;
			if (validate && n && mc_validate(n, NULL)) {
				*bad_op = i;
				return i + 1;
			}
			break;
		}
		case OP_DESTROY:
			mc_destroy_nowait(t);
			trees[tn] = NULL;
			*destroyed = 1;
			break;
		default:
			if (code >= OP_CURSOR0 && code < OP_CURSOR0 + 8)
				mc_cursor(t, code - OP_CURSOR0, op[2], r);
			else if (code >= OP_COUNT && mc_api_batch_op(t, code, op, r))
				check = t;
			break;
		}
		if (validate && check && mc_validate(check, NULL)) {
			*bad_op = i;
			return i + 1;
		}
	}
	return n;
}

long mc_batch(const u64w *ops, long n, u64w *res, struct mc_tree **trees,
	      long *ntrees, long cap, int validate, long *bad_op)
{
	int destroyed = 0;
	long ret;

	mc_enter();
	*bad_op = -1;
	ret = mc_batch_run(ops, n, res, trees, ntrees, cap, validate, bad_op,
			   &destroyed);
	if (destroyed)
		rcu_barrier();
	return ret;
}

/*
 * mc_batch without validation, each operation timed on its own: ns[i] is the
 * CLOCK_MONOTONIC time operation i took (maplecheck diff's speed pass).  Same
 * return value and table updates as mc_batch.
 */
long mc_batch_timed(const u64w *ops, long n, u64w *res, struct mc_tree **trees,
		    long *ntrees, long cap, long *bad_op, u64w *ns)
{
	struct timespec t0, t1;
	int destroyed = 0;
	long i, ret;

	mc_enter();
	*bad_op = -1;
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = mc_batch_run(ops + 6 * i, 1, res + 4 * i, trees, ntrees,
				   cap, 0, bad_op, &destroyed);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[i] = (u64w)((t1.tv_sec - t0.tv_sec) * 1000000000L +
			       (t1.tv_nsec - t0.tv_nsec));
		if (ret < 0) {
			ret = -(i + 1);
			break;
		}
		ret = i + 1;
	}
	if (destroyed)
		rcu_barrier();
	return n ? ret : 0;
}

/* ------------------------------------------------------------ test hooks */

/*
 * Test only: break an invariant on purpose so validate() must complain.
 * Makes pivot 0 of the left-most leaf larger than pivot 1 (needs a leaf with
 * at least three used slots).  Returns 0, or -EINVAL if the tree has no such
 * leaf.
 */
long mc_test_corrupt_pivot(struct mc_tree *t)
{
	void *root = t->mt.ma_root;
	struct maple_enode *enode;
	struct maple_node *node;
	unsigned long *pivots;
	enum maple_type type;

	if (!root || !xa_is_node(root))
		return -EINVAL;
	enode = mte_safe_root(root);
	while (!mte_is_leaf(enode)) {
		node = mte_to_node(enode);
		enode = ma_slots(node, mte_node_type(enode))[0];
	}
	node = mte_to_node(enode);
	type = mte_node_type(enode);
	pivots = ma_pivots(node, type);
	if (!pivots[1])
		return -EINVAL;
	pivots[0] = pivots[1] + 1;
	return 0;
}

/*
 * Test only: crash on purpose.  0: NULL dereference, 1: BUG(), 2: use after
 * free, 3: hang (sleep forever).
 */
long mc_test_crash(int how)
{
	volatile long *p = NULL;

	switch (how) {
	case 0:
		return *p;
	case 1:
		BUG();
		return 0;
	case 2: {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
		long *q = malloc(64);
		long v;

		free(q);
		v = ((volatile long *)q)[1];
#pragma GCC diagnostic pop
		return v;
	}
	case 3:
		for (;;)
			sleep(1);
	}
	raise(SIGSEGV);
	return 0;
}

#include "shim_api.c"	/* the rest of the caller API */
#include "shim_check.c"	/* per-node hashes and per-write span validation */
