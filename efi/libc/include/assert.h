/* SPDX-License-Identifier: GPL-2.0-or-later */
/* assert() checks nothing (there is no abort() to call before Windows starts);
 * static_assert is C11's. */
#ifndef UL_LIBC_ASSERT_H
#define UL_LIBC_ASSERT_H
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((void)sizeof(!(e)))
#endif
#ifndef __cplusplus
#define static_assert _Static_assert
#endif
#endif
