// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * maplecheck: the rest of the maple tree's caller API, for the Tree protocol
 * (see maplecheck/tree.py for what each call promises).
 *
 * #included at the end of shim.c, so it sees the kernel file, struct mc_tree
 * and the node allocation counters of shim.c.
 *
 * Allocation-failure injection on any write
 *   - Every call here with a fail_at argument counts the maple nodes it
 *     requests from the node cache exactly as mc_dup() does (a bulk request
 *     of n counts n; the request whose counted range holds the fail_at-th
 *     node fails whole; earlier and later requests are served).  With
 *     fail_at == 0 the requests are still counted, none is refused.
 *     GFP_NOWAIT requests are served like any other (see mc_api_arm).
 *   - mc_api_coverage() reads, per store type (enum store_type as the kernel
 *     set it in the ma_state), how many writes had their k-th node request
 *     refused (k = 1..MC_COV_K) and the largest number of nodes one write of
 *     that type requested.
 *
 * The calls, each on tree t, holding the tree lock for writes:
 *   store_gfp        mas_store_gfp(GFP_KERNEL): a refused request is retried
 *                    by mas_nomem, so the store happens.
 *   store_nowait     mas_store() (which allocates with GFP_NOWAIT); on error
 *                    the caller gives up: mas_destroy(), return -ENOMEM.
 *   store_prealloc   mas_preallocate(GFP_KERNEL) then mas_store_prealloc()
 *                    on the same state and range.
 *   prealloc_destroy mas_preallocate(GFP_KERNEL) then mas_destroy().
 *   mas_erase        mas_erase() on MA_STATE(index, index).
 *   alloc_cyclic     mtree_alloc_cyclic(GFP_KERNEL).
 *   mt_find, mt_find_after, mt_next, mt_prev: as exported.
 * The store_* calls refuse what mtree_store_range refuses (an advanced entry,
 * first > last) with -EINVAL before touching the tree.
 */

#define MC_COV_TYPES 16
#define MC_COV_K 32

static u64w mc_cov_hits[MC_COV_TYPES][MC_COV_K + 1];
static u64w mc_cov_max[MC_COV_TYPES];
static u64w mc_last[2];	/* the last call's store type and node requests */

/*
 * Start counting node requests; fail_at 0 counts without refusing.  The
 * scaffolding's cache refuses every allocation that may not sleep unless
 * given a budget (kmem_cache_set_non_kernel): during these calls it gets an
 * unbounded one, so GFP_NOWAIT succeeds as with free memory in a kernel and
 * only the injected refusal fails.
 */
static void mc_api_arm(long fail_at)
{
	kmem_cache_set_non_kernel(maple_node_cache, UINT_MAX);
	mc_alloc_count = 0;
	mc_fail_at = fail_at > 0 ? fail_at : LONG_MAX;
}

/* Stop counting; note the write's store type, requests and refusal. */
static void mc_api_disarm(struct ma_state *mas, long fail_at)
{
	unsigned int type = (unsigned int)mas->store_type;

	mc_last[0] = type;
	mc_last[1] = mc_alloc_count;

	if (type < MC_COV_TYPES) {
		if (fail_at > 0 && fail_at <= MC_COV_K && mc_alloc_count >= fail_at) {
			mc_cov_hits[type][fail_at]++;
			if ((u64w)fail_at > mc_cov_max[type])	/* it needed that many */
				mc_cov_max[type] = fail_at;
		}
		if ((fail_at <= 0 || mc_alloc_count < fail_at) &&
		    (u64w)mc_alloc_count > mc_cov_max[type])
			mc_cov_max[type] = mc_alloc_count;
	}
	mc_fail_at = 0;
	mc_alloc_count = 0;
	kmem_cache_set_non_kernel(maple_node_cache, 0);
}

/* Words: MC_COV_TYPES rows of (max requested, hits[1..MC_COV_K]); reset: then zero the table. */
long mc_api_coverage(u64w *out, long cap, int reset)
{
	long need = MC_COV_TYPES * (MC_COV_K + 1), i, k;

	if (cap < need)
		return -need;
	for (i = 0; i < MC_COV_TYPES; i++) {
		out[i * (MC_COV_K + 1)] = mc_cov_max[i];
		for (k = 1; k <= MC_COV_K; k++)
			out[i * (MC_COV_K + 1) + k] = mc_cov_hits[i][k];
	}
	if (reset) {
		memset(mc_cov_hits, 0, sizeof(mc_cov_hits));
		memset(mc_cov_max, 0, sizeof(mc_cov_max));
	}
	return need;
}

/* out: store type and nodes requested by the last call of this file that writes */
void mc_api_last(u64w *out)
{
	out[0] = mc_last[0];
	out[1] = mc_last[1];
}

static inline int mc_bad_store(u64w first, u64w last, u64w entry)
{
	return xa_is_advanced((void *)entry) || first > last;
}

enum mc_store_how { MC_GFP, MC_NOWAIT, MC_PREALLOC, MC_PREALLOC_DESTROY };

long mc_store_api(struct mc_tree *t, int how, u64w first, u64w last,
		  u64w entry, long fail_at)
{
	MA_STATE(mas, &t->mt, first, last);
	long ret = 0;

	mc_enter();
	if (mc_bad_store(first, last, entry)) {
		mc_last[0] = mc_last[1] = 0;
		mc_cursor_reset(t);
		return -EINVAL;
	}
	mtree_lock(&t->mt);
	mc_api_arm(fail_at);
	switch (how) {
	case MC_GFP:
		ret = mas_store_gfp(&mas, (void *)entry, GFP_KERNEL);
		break;
	case MC_NOWAIT:
		mas_store(&mas, (void *)entry);
		if (mas_is_err(&mas))
			ret = xa_err(mas.node);
		mas_destroy(&mas);
		break;
	case MC_PREALLOC:
	case MC_PREALLOC_DESTROY:
		/* on error mas_preallocate has released what it got (callers rely on it) */
		ret = mas_preallocate(&mas, (void *)entry, GFP_KERNEL);
		if (ret)
			break;
		if (how == MC_PREALLOC)
			mas_store_prealloc(&mas, (void *)entry);
		else
			mas_destroy(&mas);
		break;
	}
	mc_api_disarm(&mas, fail_at);
	mtree_unlock(&t->mt);
	mc_cursor_reset(t);
	return ret;
}

u64w mc_mas_erase(struct mc_tree *t, u64w index, long fail_at)
{
	MA_STATE(mas, &t->mt, index, index);
	void *old;

	mc_enter();
	mtree_lock(&t->mt);
	mc_api_arm(fail_at);
	old = mas_erase(&mas);
	mc_api_disarm(&mas, fail_at);
	mtree_unlock(&t->mt);
	mc_cursor_reset(t);
	return (u64w)old;
}

/* out: start, next (next is in/out: pass the caller's next in out[1]) */
long mc_alloc_cyclic(struct mc_tree *t, u64w entry, u64w min, u64w max,
		     u64w *out)
{
	unsigned long start = 0, next = out[1];
	long ret;

	mc_enter();
	ret = mtree_alloc_cyclic(&t->mt, &start, (void *)entry, min, max, &next,
				 GFP_KERNEL);
	mc_cursor_reset(t);
	out[0] = ret < 0 ? 0 : start;
	out[1] = next;
	return ret;
}

/* after: 1 for mt_find_after.  out: entry, updated index */
void mc_mt_find(struct mc_tree *t, int after, u64w index, u64w max, u64w *out)
{
	unsigned long idx = index;
	void *e;

	mc_enter();
	e = after ? mt_find_after(&t->mt, &idx, max) : mt_find(&t->mt, &idx, max);
	out[0] = (u64w)e;
	out[1] = idx;
}

u64w mc_mt_step(struct mc_tree *t, int prev, u64w index, u64w limit)
{
	mc_enter();
	return (u64w)(prev ? mt_prev(&t->mt, index, limit)
			   : mt_next(&t->mt, index, limit));
}

/*
 * Batch opcodes OP_COUNT.. (the Python side keeps the same table):
 *   +0 store_gfp +1 store_nowait +2 store_prealloc +3 prealloc_destroy
 *       (a=first, b=last, c=entry, d=fail_at or 0)      -> r0 ret
 *   +4 mas_erase(a=index, b=fail_at or 0)               -> r0 old
 *   +5 alloc_cyclic(a=entry, b=min, c=max, d=next)      -> r0 ret, r1 start, r2 next
 *   +6 mt_find, +7 mt_find_after (a=index, b=max)       -> r0 entry, r1 index
 *   +8 mt_next(a=index, b=max), +9 mt_prev(a, b=min)    -> r0 entry
 * Returns 1 for a write (to validate), 0 for a read.
 */
#define OP_API_WRITE_END (OP_COUNT + 6)	/* +0 .. +5 write the tree */
static int mc_api_batch_op(struct mc_tree *t, u64w code, const u64w *op,
			   u64w *r)
{
	switch (code - OP_COUNT) {
	case 0: case 1: case 2: case 3:
		r[0] = mc_store_api(t, (int)(code - OP_COUNT), op[2], op[3],
				    op[4], (long)op[5]);
		return 1;
	case 4:
		r[0] = mc_mas_erase(t, op[2], (long)op[3]);
		return 1;
	case 5:
		r[2] = op[5];
		r[0] = mc_alloc_cyclic(t, op[2], op[3], op[4], &r[1]);
		return 1;
	case 6: case 7:
		mc_mt_find(t, code - OP_COUNT == 7, op[2], op[3], r);
		return 0;
	default:
		r[0] = mc_mt_step(t, code - OP_COUNT == 9, op[2], op[3]);
		return 0;
	}
}
