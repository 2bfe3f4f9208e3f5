//! How roster gives memory back to the system. glibc's malloc keeps what a
//! process frees in its arenas unless the free space sits at the very top
//! of one, so a process's resident size stays at its high-water mark:
//! building the OpenAPI document at start-up left 14 MiB behind that way,
//! more than everything roster keeps alive when idle. Two calls fix that.

/// Makes glibc map every allocation of 4 MiB or more on its own, so freeing
/// one (an argon2 scratchpad, 7 MiB or more) returns it to the system. (By default
/// glibc raises that threshold after the first large free and then keeps
/// such buffers in its arenas for good.)
pub fn map_large_buffers_on_their_own() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is thread-safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Hands the free pages of every arena back to the system. It walks the
/// arenas under their locks, so it is called at quiet moments only: once
/// start-up is done, and when password hashing has gone idle after work.
pub fn return_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory malloc holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
