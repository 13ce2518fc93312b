//! The bump heap whose whole state is the ABI's heap pointer.
//!
//! OPA hosts save `opa_heap_ptr_get()` after loading data and call `opa_heap_ptr_set(saved)`
//! before each evaluation (or pass it to `opa_eval`), which frees everything allocated since in
//! one step. OPA's Go SDK even copies the bytes between the heap base and the saved pointer into
//! fresh instances. Both only work if the allocator keeps no state but that pointer: this is a
//! bump allocator over linear memory from `__heap_base` up, growing memory with `memory.grow`.
//! Freeing the most recent block moves the pointer back (Vec growth and temporary buffers reuse
//! their space); any other free waits for the host's reset. There is no free list, so the ABI
//! 1.3 stash calls have nothing to move.
//!
//! The arithmetic is plain code that the host tests; the allocator around it is wasm-only.

/// Bytes per wasm page.
pub const PAGE: u64 = 65536;
/// The size of wasm32's address space.
pub const ADDRESS_SPACE: u64 = 1 << 32;

/// Where an allocation of `size` bytes aligned to `align` (a power of two) starts when the heap
/// pointer is at `ptr`, and the heap pointer after it; `None` when it would leave the address
/// space.
pub fn bump(ptr: u64, size: u64, align: u64) -> Option<(u64, u64)> {
    debug_assert!(align.is_power_of_two());
    let start = ptr.checked_add(align - 1)? & !(align - 1);
    let end = start.checked_add(size)?;
    (end <= ADDRESS_SPACE).then_some((start, end))
}

/// Pages to add to a memory of `memory_bytes` so that `end` fits.
pub fn pages_to_grow(end: u64, memory_bytes: u64) -> u64 {
    if end <= memory_bytes {
        0
    } else {
        (end - memory_bytes).div_ceil(PAGE)
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{allocate, heap_ptr, set_heap_ptr, BumpHeap};

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32;
    use core::cell::Cell;

    use super::{bump, pages_to_grow, PAGE};
    use crate::abi::abort;

    extern "C" {
        /// Set by wasm-ld: the first byte after the stack and static data.
        static __heap_base: u8;
    }

    /// The heap pointer; 0 until first use.
    struct Pointer(Cell<usize>);
    // SAFETY: wasm32-unknown-unknown modules run on one thread.
    unsafe impl Sync for Pointer {}

    static HEAP_PTR: Pointer = Pointer(Cell::new(0));

    fn heap_base() -> usize {
        // Only the symbol's address is taken, never its value.
        core::ptr::addr_of!(__heap_base) as usize
    }

    /// The current heap pointer (`opa_heap_ptr_get`).
    pub fn heap_ptr() -> usize {
        let p = HEAP_PTR.0.get();
        if p == 0 {
            let base = heap_base();
            HEAP_PTR.0.set(base);
            base
        } else {
            p
        }
    }

    /// Moves the heap pointer (`opa_heap_ptr_set`). Below the heap base it would hand out the
    /// stack and static data, so that is refused.
    pub fn set_heap_ptr(p: usize) {
        if p < heap_base() {
            abort(format_args!(
                "opa_heap_ptr_set({p}): below the heap base {}",
                heap_base()
            ));
        }
        HEAP_PTR.0.set(p);
    }

    /// Reserves [start, start + size) and returns start, growing memory as needed; aborts through
    /// `opa_abort` when memory cannot grow.
    pub fn allocate(size: usize, align: usize) -> *mut u8 {
        let ptr = heap_ptr();
        let Some((start, end)) = bump(ptr as u64, size as u64, align as u64) else {
            abort(format_args!(
                "opa_malloc: {size} bytes do not fit in the address space (heap at {ptr})"
            ));
        };
        ensure_memory(end, size);
        HEAP_PTR.0.set(end as usize);
        start as usize as *mut u8
    }

    fn ensure_memory(end: u64, size: usize) {
        let memory = wasm32::memory_size(0) as u64 * PAGE;
        let pages = pages_to_grow(end, memory);
        if pages > 0 && wasm32::memory_grow(0, pages as usize) == usize::MAX {
            abort(format_args!(
                "opa_malloc: out of memory: {size} bytes need {pages} more pages of 64 KiB beyond {memory} bytes, and memory.grow failed"
            ));
        }
    }

    /// The global allocator: Rust's allocations share the host's heap and its resets.
    pub struct BumpHeap;

    unsafe impl GlobalAlloc for BumpHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            allocate(layout.size(), layout.align())
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // Only the most recent block can be given back without a free list.
            if ptr as usize + layout.size() == HEAP_PTR.0.get() {
                HEAP_PTR.0.set(ptr as usize);
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let top = HEAP_PTR.0.get();
            if ptr as usize + layout.size() == top {
                // The last block grows or shrinks in place.
                let end = ptr as u64 + new_size as u64;
                if end < super::ADDRESS_SPACE {
                    ensure_memory(end, new_size);
                    HEAP_PTR.0.set(end as usize);
                    return ptr;
                }
            }
            if new_size <= layout.size() {
                return ptr;
            }
            let new = allocate(new_size, layout.align());
            // SAFETY: both blocks are live and distinct (the new one starts at or above the old
            // heap pointer, which is past the end of the old block).
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_aligns_and_advances() {
        assert_eq!(bump(100, 10, 8), Some((104, 114)));
        assert_eq!(bump(104, 0, 8), Some((104, 104)));
        assert_eq!(bump(105, 3, 1), Some((105, 108)));
        // An unaligned pointer from a host (opa_eval's heap_ptr = input address + length).
        assert_eq!(bump(70_001, 4, 4), Some((70_004, 70_008)));
    }

    #[test]
    fn bump_refuses_to_leave_the_address_space() {
        assert_eq!(
            bump(ADDRESS_SPACE - 8, 8, 8),
            Some((ADDRESS_SPACE - 8, ADDRESS_SPACE))
        );
        assert_eq!(bump(ADDRESS_SPACE - 8, 9, 8), None);
        assert_eq!(bump(ADDRESS_SPACE - 3, 1, 8), None);
        assert_eq!(bump(u64::MAX - 2, 1, 8), None);
    }

    #[test]
    fn growth_is_in_whole_pages() {
        assert_eq!(pages_to_grow(PAGE, PAGE), 0);
        assert_eq!(pages_to_grow(PAGE + 1, PAGE), 1);
        assert_eq!(pages_to_grow(3 * PAGE, PAGE), 2);
        assert_eq!(pages_to_grow(3 * PAGE + 1, 2 * PAGE), 2);
    }
}
