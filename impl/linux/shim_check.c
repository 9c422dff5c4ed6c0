// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * maplecheck: checking helpers of the shim, #included at the end of shim.c.
 *
 * Canonical structure hash (mc_tree_hash)
 *   A 64-bit FNV-1a over words (h ^= w; h *= FNV prime), computed exactly as
 *   maplecheck/hashing.py computes it over a canonical dump, so equal trees
 *   give equal hashes in C and Python and no address takes part.  A node's
 *   record is the words of its dump record in dump order (type, min, max,
 *   end, parent slot, number of pivots, the pivots, number of slots, the
 *   slots, and for arange nodes number of gaps, the gaps, meta gap), except
 *   that an internal node's slot is its child's hash.  The tree's hash covers
 *   flags, height, root kind, root value (0 unless an entry) and the root
 *   node's hash (0 without one).
 *
 * Ranges hash (mc_ranges_hash)
 *   FNV-1a over (first, last, entry) of every range, NULL ranges included,
 *   left to right: what maplecheck.dump.dump_ranges lists, so contents can be
 *   compared with the model's without a dump.
 *
 * Checked batch (mc_batch_hashed)
 *   mc_batch() with, after every write, the structure hash of the written
 *   tree (of the copy for dup) in hashes[i] (0 for a read).
 */

#define MC_FNV_OFFSET 0xcbf29ce484222325ULL
#define MC_FNV_PRIME 0x100000001b3ULL

static inline u64w mc_mix(u64w h, u64w w)
{
	return (h ^ w) * MC_FNV_PRIME;
}

static u64w mc_node_hash(struct maple_enode *enode, unsigned long min,
			 unsigned long max, u64w parent_slot)
{
	struct maple_node *node = mte_to_node(enode);
	enum maple_type type = mte_node_type(enode);
	unsigned long *pivots;
	void __rcu **slots;
	unsigned char npiv_max, end, npiv;
	unsigned long cmin = min, cmax;
	u64w h = MC_FNV_OFFSET;
	int i;

	if (type > maple_arange_64) {
		fprintf(stderr, "maplecheck: hash found node type %u at %p\n", type, enode);
		abort();
	}
	pivots = ma_pivots(node, type);
	slots = ma_slots(node, type);
	npiv_max = mt_pivots[type];
	end = ma_data_end(node, type, pivots, max);
	npiv = end < npiv_max ? end + 1 : npiv_max;
	h = mc_mix(h, type);
	h = mc_mix(h, min);
	h = mc_mix(h, max);
	h = mc_mix(h, end);
	h = mc_mix(h, parent_slot);
	h = mc_mix(h, npiv);
	for (i = 0; i < npiv; i++)
		h = mc_mix(h, pivots[i]);
	h = mc_mix(h, end + 1);
	for (i = 0; i <= end; i++) {
		if (ma_is_leaf(type)) {
			h = mc_mix(h, (u64w)slots[i]);
			continue;
		}
		cmax = i < npiv_max ? pivots[i] : max;
		h = mc_mix(h, mc_node_hash(slots[i], cmin, cmax, i));
		cmin = cmax + 1;
	}
	if (type == maple_arange_64) {
		unsigned long *gaps = ma_gaps(node, type);

		h = mc_mix(h, end + 1);
		for (i = 0; i <= end; i++)
			h = mc_mix(h, gaps[i]);
		h = mc_mix(h, ma_meta_gap(node));
	}
	return h;
}

u64w mc_tree_hash(struct mc_tree *t)
{
	u64w h = MC_FNV_OFFSET;
	void *root;

	mc_enter();
	mtree_lock(&t->mt);
	rcu_read_lock();
	root = rcu_dereference(t->mt.ma_root);
	h = mc_mix(h, t->mt.ma_flags & ~MT_FLAGS_HEIGHT_MASK);
	h = mc_mix(h, mt_height(&t->mt));
	if (!root) {
		h = mc_mix(mc_mix(mc_mix(h, 0), 0), 0);
	} else if (!xa_is_node(root)) {
		h = mc_mix(mc_mix(mc_mix(h, 1), (u64w)root), 0);
	} else {
		h = mc_mix(mc_mix(h, 2), 0);
		h = mc_mix(h, mc_node_hash(mte_safe_root(root), 0, ULONG_MAX, ~(u64w)0));
	}
	rcu_read_unlock();
	mtree_unlock(&t->mt);
	return h;
}

static u64w mc_ranges_node(u64w h, struct maple_enode *enode, unsigned long min,
			   unsigned long max)
{
	struct maple_node *node = mte_to_node(enode);
	enum maple_type type = mte_node_type(enode);
	unsigned long *pivots = ma_pivots(node, type);
	void __rcu **slots = ma_slots(node, type);
	unsigned char npiv_max = mt_pivots[type];
	unsigned char end = ma_data_end(node, type, pivots, max);
	unsigned long lo = min, hi;
	int i;

	for (i = 0; i <= end; i++) {
		hi = i < npiv_max ? pivots[i] : max;
		if (ma_is_leaf(type))
			h = mc_mix(mc_mix(mc_mix(h, lo), hi), (u64w)slots[i]);
		else
			h = mc_ranges_node(h, slots[i], lo, hi);
		lo = hi + 1;
	}
	return h;
}

u64w mc_ranges_hash(struct mc_tree *t)
{
	u64w h = MC_FNV_OFFSET;
	void *root;

	mc_enter();
	mtree_lock(&t->mt);
	rcu_read_lock();
	root = rcu_dereference(t->mt.ma_root);
	if (!root) {
		h = mc_mix(mc_mix(mc_mix(h, 0), ULONG_MAX), 0);
	} else if (!xa_is_node(root)) {
		h = mc_mix(mc_mix(mc_mix(h, 0), 0), (u64w)root);
		h = mc_mix(mc_mix(mc_mix(h, 1), ULONG_MAX), 0);
	} else {
		h = mc_ranges_node(h, mte_safe_root(root), 0, ULONG_MAX);
	}
	rcu_read_unlock();
	mtree_unlock(&t->mt);
	return h;
}

long mc_batch_hashed(const u64w *ops, long n, u64w *res, struct mc_tree **trees,
		     long *ntrees, long cap, int validate, long *bad_op, u64w *hashes)
{
	int destroyed = 0;
	long i, ret;

	mc_enter();
	*bad_op = -1;
	for (i = 0; i < n; i++) {
		const u64w *op = ops + 6 * i;
		u64w code = op[0];

		hashes[i] = 0;
		ret = mc_batch_run(op, 1, res + 4 * i, trees, ntrees, cap, validate,
				   bad_op, &destroyed);
		if (ret < 0) {
			ret = -(i + 1);
			break;
		}
		if (code == OP_DUP)
			hashes[i] = mc_tree_hash(trees[*ntrees - 1]);
		else if (code != OP_DESTROY && trees[op[1]] &&
			 (code <= OP_SET_RCU || code == OP_ALLOC_RANGE ||
			  code == OP_ALLOC_RRANGE))
			hashes[i] = mc_tree_hash(trees[op[1]]);
		if (*bad_op >= 0) {
			*bad_op = i;
			ret = i + 1;
			break;
		}
		ret = i + 1;
	}
	if (n == 0)
		ret = 0;
	if (destroyed)
		rcu_barrier();
	return ret;
}
