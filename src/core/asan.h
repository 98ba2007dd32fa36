/* VT_ASAN_ALLOCATOR is defined when AddressSanitizer replaces malloc (gcc
 * says so by __SANITIZE_ADDRESS__, clang by __has_feature): glibc's own
 * accounting (mallinfo2) then no longer sees the program's allocations. */
#ifndef VT_CORE_ASAN_H
#define VT_CORE_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define VT_ASAN_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VT_ASAN_ALLOCATOR 1
#endif
#endif

#endif
