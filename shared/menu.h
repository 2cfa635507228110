/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The recovery menu as a model: the core decides the items, their keys, the
 * default and the countdown; efi/ draws it and reads keys (iPXE's dynui
 * split).  Tests drive the model without a screen.
 */
#ifndef UL_MENU_H
#define UL_MENU_H

#include <stdbool.h>
#include <stdint.h>

#include "boot-state.h"
#include "config.h"
#include "decide.h"

#define UL_MENU_MAX_ITEMS 10
#define UL_MENU_MAX_LINES 8
#define UL_MENU_LINE_LEN 128

struct ul_menu_item {
    enum ul_action action;
    char key;               /* '1'..'9' */
    const char *label;
    bool available;
    char note[48];          /* why it is unavailable, "" otherwise */
};

struct ul_menu {
    char title[UL_MENU_LINE_LEN];
    char lines[UL_MENU_MAX_LINES][UL_MENU_LINE_LEN]; /* status shown above the items */
    uint32_t n_lines;
    struct ul_menu_item items[UL_MENU_MAX_ITEMS];
    uint32_t n_items;
    uint32_t default_index;
    uint32_t timeout;       /* seconds; 0 with !wait = take the default at once */
    bool wait;              /* no countdown */
};

void ul_menu_build(struct ul_menu *menu, const struct ul_state *st,
                   const struct ul_decision *d, const struct ul_caps *caps);
/* One more status line (ignored when full). */
void ul_menu_add_line(struct ul_menu *menu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Index of the item bound to key, or -1. */
int ul_menu_find_key(const struct ul_menu *menu, char key);

#endif
