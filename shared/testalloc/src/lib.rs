//! A counting allocator for the tests and benches that prove where allocations happen
//! (per window, per record, per event; never per sample).
//!
//! A `#[global_allocator]` must be declared in the binary that uses it, so each test or
//! bench binary still names its own static; the type and its counter live here, once:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: burnbar_testalloc::Counting = burnbar_testalloc::Counting;
//!
//! let before = burnbar_testalloc::allocations();
//! // ... the code under test ...
//! let allocs = burnbar_testalloc::allocations() - before;
//! ```
//!
//! Allocations and reallocations are counted (a `Vec` growing is a cost the hot path must
//! not pay per sample either); frees are not, they only follow allocations. The counter is
//! process-wide: a test that compares counts should not run beside others that allocate
//! (one `#[test]` per binary, or `--test-threads=1`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocations and reallocations since the process started, when [`Counting`] is the
/// binary's global allocator (otherwise it stays 0).
pub static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting into [`ALLOCS`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the only addition is an atomic counter, which neither allocates nor panics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The count so far ([`ALLOCS`]).
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn counts_allocations_and_reallocations_not_frees() {
        let before = allocations();
        let mut v: Vec<u64> = std::hint::black_box(Vec::with_capacity(1));
        v.push(1);
        v.push(2); // over capacity: a reallocation
        std::hint::black_box(&v);
        let grown = allocations() - before;
        drop(v);
        let after_free = allocations() - before;
        // Other threads of the test harness may allocate meanwhile: at least ours.
        assert!(grown >= 2, "{grown}");
        assert!(after_free >= grown);
    }
}
