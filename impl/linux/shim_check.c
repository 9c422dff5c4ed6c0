// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * maplecheck: checking helpers of the shim, #included at the end of shim.c.
 *
 * Canonical structure hash (mc_tree_hash)
 *   A 64-bit FNV-1a over words (h ^= w; h *= FNV prime), computed exactly as
 *   maplecheck/hashing.py computes it over a canonical dump, so equal trees
 *   give equal hashes in C and Python and no address takes part.  It reads
 *   mc_dump()'s words (one home for walking the nodes): a node's hash mixes
 *   its dump record in order (type, min, max, end, parent slot, number of
 *   pivots, the pivots, number of slots, the slots, and for arange nodes
 *   number of gaps, the gaps, meta gap), except that an internal node's slot
 *   is its child's hash.  The tree's hash covers
 *   flags, height, root kind, root value (0 unless an entry) and the root
 *   node's hash (0 without one).
 *
 * Ranges hash (mc_ranges_hash)
 *   FNV-1a over (first, last, entry) of every range, NULL ranges included,
 *   left to right: what maplecheck.dump.dump_ranges lists, so contents can be
 *   compared with the model's without a dump.
 *
 * Checked batch (mc_batch_checked, at the end)
 *   mc_batch() with per-write validation of the written span and structure
 *   hashes after every write.
 */

#define MC_FNV_OFFSET 0xcbf29ce484222325ULL
#define MC_FNV_PRIME 0x100000001b3ULL

static inline u64w mc_mix(u64w h, u64w w)
{
	return (h ^ w) * MC_FNV_PRIME;
}

/* the canonical dump of t in a buffer kept between calls; returns its length */
static u64w *mc_hbuf;
static long mc_hcap;

static long mc_dump_cached(struct mc_tree *t)
{
	long n;

	if (!mc_hbuf) {
		mc_hcap = 4096;
		mc_hbuf = malloc(mc_hcap * sizeof(*mc_hbuf));
	}
	while ((n = mc_dump(t, mc_hbuf, mc_hcap)) < 0) {
		mc_hcap = -n;
		mc_hbuf = realloc(mc_hbuf, mc_hcap * sizeof(*mc_hbuf));
	}
	return n;
}

/* where each node record of the dump starts (mc_dump's layout: 5 header words,
 * then per node type, min, max, end, pslot, npiv, pivots, nslots, slots and for
 * arange nodes ngaps, gaps, meta gap) */
static long *mc_record_starts(const u64w *w, long count)
{
	long *start = malloc((count ? count : 1) * sizeof(*start));
	long p = 5, i;

	for (i = 0; i < count; i++) {
		start[i] = p;
		p += 6 + w[p + 5];
		p += 1 + w[p];
		if (w[start[i]] == maple_arange_64) {
			p += 1 + w[p];
			p += 1;
		}
	}
	return start;
}

u64w mc_tree_hash(struct mc_tree *t)
{
	const u64w *w;
	long count, *start, i, p, k;
	u64w *nh, h, root_hash = 0;

	mc_dump_cached(t);
	w = mc_hbuf;
	count = w[4];
	start = mc_record_starts(w, count);
	nh = malloc((count ? count : 1) * sizeof(*nh));
	for (i = count - 1; i >= 0; i--) {
		/* the record's words in order; an internal node's slots are its children's hashes */
		int leaf = w[start[i]] < maple_range_64;
		long npiv = w[start[i] + 5], nslots;

		p = start[i];
		h = MC_FNV_OFFSET;
		for (k = 0; k < 6 + npiv; k++)
			h = mc_mix(h, w[p++]);
		nslots = w[p];
		h = mc_mix(h, w[p++]);
		for (k = 0; k < nslots; k++, p++)
			h = mc_mix(h, leaf ? w[p] : nh[w[p]]);
		if (w[start[i]] == maple_arange_64) {
			long ngaps = w[p];

			for (k = 0; k < ngaps + 2; k++)
				h = mc_mix(h, w[p++]);
		}
		nh[i] = h;
	}
	if (count)
		root_hash = nh[0];
	h = mc_mix(MC_FNV_OFFSET, w[0] & ~MT_FLAGS_HEIGHT_MASK);
	h = mc_mix(h, w[1]);
	h = mc_mix(h, w[2]);
	h = mc_mix(h, w[2] == 1 ? w[3] : 0);
	h = mc_mix(h, root_hash);
	free(nh);
	free(start);
	return h;
}

u64w mc_ranges_hash(struct mc_tree *t)
{
	const u64w *w;
	long count, *start, i, k;
	u64w h = MC_FNV_OFFSET;

	mc_dump_cached(t);
	w = mc_hbuf;
	count = w[4];
	if (w[2] == 0)
		return mc_mix(mc_mix(mc_mix(h, 0), ULONG_MAX), 0);
	if (w[2] == 1) {
		h = mc_mix(mc_mix(mc_mix(h, 0), 0), w[3]);
		return mc_mix(mc_mix(mc_mix(h, 1), ULONG_MAX), 0);
	}
	start = mc_record_starts(w, count);
	for (i = 0; i < count; i++) {
		const u64w *r = w + start[i];
		long npiv = r[5];
		const u64w *slots = r + 7 + npiv;
		u64w lo = r[1], hi;

		if (r[0] >= maple_range_64)
			continue;
		for (k = 0; k < (long)r[6 + npiv]; k++) {
			hi = k < npiv ? r[6 + k] : r[2];
			h = mc_mix(mc_mix(mc_mix(h, lo), hi), slots[k]);
			lo = hi + 1;
		}
	}
	free(start);
	return h;
}

/* ------------------------------------------------------------ path validation */

/*
 * mc_validate_span(t, first, last): the checks mt_validate() runs on each node
 * (dead node, occupancy, parent slot, limits, child slots, gaps), run on the
 * nodes a write to [first, last] can have changed, and the NULL rule on the
 * ranges from first - 1 to last + 1.  Visited: every node whose range meets
 * [first - 1, last + 1], and every child of such a node (checked, not
 * descended into: a split's or rebalance's new sibling is one of them, and
 * its child-slot check reads the parent words of the children it adopted).
 * Captures like mc_validate(); returns the number of failed checks.
 * Callers run the full mc_validate() every so often and at the end of a
 * batch, so the bound on what is visited is a speed-up, not the guarantee.
 */
static void mc_check_one(struct ma_state *mas, struct maple_enode *enode,
			 unsigned long min, unsigned long max)
{
	unsigned char end;

	mas->node = enode;
	mas->min = min;
	mas->max = max;
	MAS_WARN_ON(mas, mte_dead_node(mas->node));
	end = mas_data_end(mas);
	if (MAS_WARN_ON(mas, (end < mt_min_slot_count(mas->node)) &&
			(mas->max != ULONG_MAX)))
		pr_err("Invalid size %u of %p\n", end, mas_mn(mas));
	mas_validate_parent_slot(mas);
	mas_validate_limits(mas);
	mas_validate_child_slot(mas);
	if (mt_is_alloc(mas->tree))
		mas_validate_gaps(mas);
}

static void mc_check_span_node(struct ma_state *mas, struct maple_enode *enode,
			       unsigned long min, unsigned long max,
			       unsigned long lo, unsigned long hi)
{
	struct maple_node *node = mte_to_node(enode);
	enum maple_type type = mte_node_type(enode);
	unsigned long *pivots = ma_pivots(node, type);
	void __rcu **slots = ma_slots(node, type);
	unsigned char end, npiv_max = mt_pivots[type];
	unsigned long cmin = min, cmax;
	int i;

	mc_check_one(mas, enode, min, max);
	if (ma_is_leaf(type))
		return;
	end = ma_data_end(node, type, pivots, max);
	for (i = 0; i <= end; i++) {
		struct maple_enode *child = mt_slot_locked(mas->tree, slots, i);

		cmax = i < npiv_max ? pivots[i] : max;
		if (cmin <= hi && cmax >= lo)
			mc_check_span_node(mas, child, cmin, cmax, lo, hi);
		else
			mc_check_one(mas, child, cmin, cmax);
		if (cmax >= max)
			break;
		cmin = cmax + 1;
	}
}

/* the NULL rule from the range holding lo to the one holding hi */
static void mc_check_span_nulls(struct maple_tree *mt, unsigned long lo, unsigned long hi)
{
	void *entry, *prev = (void *)1;
	unsigned long *pivots;
	void __rcu **slots;
	unsigned long piv;
	enum maple_type type;
	MA_STATE(mas, mt, lo, lo);

	mas_start(&mas);
	if (!mas_is_active(&mas))
		return;
	mtree_range_walk(&mas);
	while (1) {
		type = mte_node_type(mas.node);
		pivots = ma_pivots(mte_to_node(mas.node), type);
		slots = ma_slots(mte_to_node(mas.node), type);
		entry = mas_slot(&mas, slots, mas.offset);
		if (!prev && !entry)
			pr_err("Sequential nulls end at %p[%u]\n", mas_mn(&mas), mas.offset);
		MT_BUG_ON(mt, !prev && !entry);
		prev = entry;
		piv = mas_safe_pivot(&mas, pivots, mas.offset, type);
		if (piv >= hi || piv == ULONG_MAX)
			return;
		if (mas.offset == mas_data_end(&mas)) {
			mas_next_node(&mas, mas_mn(&mas), ULONG_MAX);
			if (mas_is_overflow(&mas))
				return;
			mas.offset = 0;
		} else {
			mas.offset++;
		}
	}
}

long mc_validate_span(struct mc_tree *t, u64w first, u64w last)
{
	unsigned long lo = first ? first - 1 : 0, hi = last < ULONG_MAX ? last + 1 : ULONG_MAX;
	void *root;
	MA_STATE(mas, &t->mt, 0, 0);

	mc_capture_begin();
	mtree_lock(&t->mt);
	rcu_read_lock();
	root = rcu_dereference(t->mt.ma_root);
	if (root && xa_is_node(root) && lo <= hi) {
		mas.status = ma_active;
		mc_check_span_node(&mas, mte_safe_root(root), 0, ULONG_MAX, lo, hi);
		mc_check_span_nulls(&t->mt, lo, hi);
	}
	rcu_read_unlock();
	mtree_unlock(&t->mt);
	return mc_capture_end(NULL);
}

/*
 * mc_batch_checked(): mc_batch() with cheaper validation of the same
 * strength per write, and structure hashes.
 *   validate 0: none; 1: mt_validate after every write (as mc_batch);
 *   2: mc_validate_span() after every write, mt_validate after every
 *      full_every-th write, after dup, and at the end of the batch on every
 *      tree the batch wrote (a failure there is reported at the last op).
 *   want_hashes: hashes[i] = the written tree's mc_tree_hash after op i
 *   (the copy's for dup; 0 for reads and destroy).
 */
#define MC_WRITE_OP(c) ((c) <= OP_SET_RCU || (c) == OP_ALLOC_RANGE || (c) == OP_ALLOC_RRANGE || \
			MC_API_WRITE_OP(c))
/* shim_api.c's writes (store_gfp .. alloc_cyclic): validated in full */
#define MC_API_WRITE_OP(c) ((c) >= OP_COUNT && (c) < OP_API_WRITE_END)

long mc_batch_checked(const u64w *ops, long n, u64w *res, struct mc_tree **trees,
		      long *ntrees, long cap, int validate, long full_every,
		      long *bad_op, int want_hashes, u64w *hashes)
{
	int destroyed = 0;
	long i, ret = 0, writes = 0;
	char *written = calloc(cap ? cap : 1, 1);

	mc_enter();
	*bad_op = -1;
	for (i = 0; i < n; i++) {
		const u64w *op = ops + 6 * i;
		u64w code = op[0], tn = op[1], first = 0, last = 0, *r = res + 4 * i;
		int write = code < OP_API_END && MC_WRITE_OP(code);
		int full = validate == 1 || code == OP_DUP || MC_API_WRITE_OP(code) ||
			   (write && full_every && ++writes % full_every == 0);

		hashes[i] = 0;
		if (validate == 2 && write && !full && tn < (u64w)*ntrees && trees[tn]) {
			if (code == OP_STORE_RANGE || code == OP_INSERT_RANGE) {
				first = op[2];
				last = op[3];
			} else if (code == OP_ERASE || code == OP_REPLACE) {
				u64w w[4];

				mc_walk(trees[tn], op[2], w);
				first = w[1];
				last = w[2];
			}
		}
		if (mc_batch_run(op, 1, r, trees, ntrees, cap, validate && full, bad_op,
				 &destroyed) < 0) {
			ret = -(i + 1);
			break;
		}
		ret = i + 1;
		if (*bad_op >= 0) {
			*bad_op = i;
			break;
		}
		if (write && tn < (u64w)cap)
			written[tn] = 1;
		if (write && validate == 2 && !full) {
			if ((code == OP_ALLOC_RANGE || code == OP_ALLOC_RRANGE) && !r[0]) {
				first = r[1];
				last = r[1] + op[2] - 1;
			}
			if (mc_validate_span(trees[tn], first, last)) {
				*bad_op = i;
				break;
			}
		}
		if (want_hashes && code == OP_DUP)
			hashes[i] = mc_tree_hash(trees[*ntrees - 1]);
		else if (want_hashes && write && trees[tn])
			hashes[i] = mc_tree_hash(trees[tn]);
	}
	if (validate == 2 && *bad_op < 0 && ret == n) {
		for (i = 0; i < *ntrees && i < cap; i++) {
			if (written[i] && trees[i] && mc_validate(trees[i], NULL)) {
				*bad_op = n - 1;
				break;
			}
		}
	}
	free(written);
	if (destroyed)
		rcu_barrier();
	return ret;
}
