/* VT_API marks the functions libverto.so exports: the ones declared in
 * include/verto/. Everything else is built with -fvisibility=hidden, so the
 * library's internals (src/ headers) are not part of its interface. */
#ifndef VERTO_EXPORT_H
#define VERTO_EXPORT_H

#if defined(__GNUC__)
#define VT_API __attribute__((visibility("default")))
#else
#define VT_API
#endif

#endif
