/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * maplecheck: the maple tree's shared-memory points made visible to a
 * scheduler.  Included by rcu_shim.c after the scaffolding's headers and
 * before lib/maple_tree.c, so every use of these macros in the kernel file
 * (and in our shim) becomes a call into the scheduler of rcu_shim.c.
 *
 * Scheduling points (MC_SP_*):
 *   writer side, a yield AFTER the store becomes visible:
 *     rcu_assign_pointer, WRITE_ONCE, smp_wmb (the barrier that follows
 *     mte_set_node_dead's marking), call_rcu
 *   reader side, a yield BEFORE the load:
 *     rcu_dereference (and its _check/_protected forms), READ_ONCE,
 *     smp_rmb (the barrier in front of every dead-node check)
 * Plain accesses between two points run atomically with respect to the other
 * coroutines: the model is sequential consistency at point granularity.
 *
 * RCU itself (read-side sections, call_rcu, rcu_barrier) is the scheduler's:
 * a callback runs only once every reader that was inside a read-side section
 * when it was queued has left it, and the writer's operation has returned.
 */
#ifndef MC_RCU_SCHED_H
#define MC_RCU_SCHED_H

enum mc_sp_kind {
	MC_SP_ASSIGN = 0,	/* rcu_assign_pointer (a publication) */
	MC_SP_WRITE_ONCE,
	MC_SP_WMB,		/* smp_wmb: after a node is marked dead */
	MC_SP_CALL_RCU,
	MC_SP_DEREF,		/* rcu_dereference* in a reader */
	MC_SP_READ_ONCE,
	MC_SP_RMB,		/* smp_rmb: in front of a dead-node check */
	MC_SP_KINDS
};

struct rcu_head;
void mc_sp_store(int kind);
void mc_sp_load(int kind);
void mc_rcu_read_lock(void);
void mc_rcu_read_unlock(void);
void mc_call_rcu(struct rcu_head *head, void (*fn)(struct rcu_head *));
void mc_rcu_barrier(void);

#undef rcu_dereference
#undef rcu_dereference_raw
#undef rcu_dereference_check
#undef rcu_dereference_protected
#undef rcu_assign_pointer
#undef RCU_INIT_POINTER
#undef READ_ONCE
#undef WRITE_ONCE
#undef smp_rmb
#undef smp_wmb
#undef rcu_read_lock
#undef rcu_read_unlock
#undef call_rcu
#undef rcu_barrier

#define MC_LOAD_RAW(x) (*(volatile __typeof__(x) *)&(x))

#define rcu_dereference(p) \
	({ mc_sp_load(MC_SP_DEREF); __typeof__(p) mc___p = MC_LOAD_RAW(p); mc___p; })
#define rcu_dereference_raw(p) rcu_dereference(p)
#define rcu_dereference_check(p, c) rcu_dereference(p)
#define rcu_dereference_protected(p, c) rcu_dereference(p)
#define READ_ONCE(x) \
	({ mc_sp_load(MC_SP_READ_ONCE); __typeof__(x) mc___x = MC_LOAD_RAW(x); mc___x; })

#define rcu_assign_pointer(p, v) \
	do { MC_LOAD_RAW(p) = (v); mc_sp_store(MC_SP_ASSIGN); } while (0)
#define RCU_INIT_POINTER(p, v) do { (p) = (v); } while (0)
#define WRITE_ONCE(x, v) \
	do { MC_LOAD_RAW(x) = (v); mc_sp_store(MC_SP_WRITE_ONCE); } while (0)

#define smp_rmb() mc_sp_load(MC_SP_RMB)
#define smp_wmb() mc_sp_store(MC_SP_WMB)

#define rcu_read_lock() mc_rcu_read_lock()
#define rcu_read_unlock() mc_rcu_read_unlock()
#define call_rcu(h, f) mc_call_rcu(h, f)
#define rcu_barrier() mc_rcu_barrier()

#endif
