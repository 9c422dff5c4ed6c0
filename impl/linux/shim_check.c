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
