/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The firmware clock, the console log sink and the recovery menu on
 * SIMPLE_TEXT_OUTPUT/INPUT.  OVMF and most PCs mirror the console to the
 * serial port, which is what the QEMU tests read.
 */
#include "efi-util.h"

#include "../shared/bitlocker-unlock.h"
#include "../shared/string-util.h"
#include "../shared/time-util.h"
#include "../shared/ul-errno.h"

/* ---- clock ---- */

static int clock_now(void *ctx, struct ul_time *ret)
{
    EFI_TIME t;
    (void)ctx;
    ret->valid = false;
    EFI_STATUS st = RT->GetTime(&t, NULL);
    if (EFI_ERROR(st))
        return ul_efi_err(st);
    int64_t secs = ul_time_from_fields(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second);
    if (secs < 0)
        return -22;
    ret->secs = secs;
    ret->tz = t.TimeZone;
    ret->valid = true;
    return 0;
}

/* The TSC, calibrated against a 10 ms Stall the first time it is asked for
 * (only debug timings ask: a healthy boot at the default level pays nothing). */
static uint64_t clock_micros(void *ctx)
{
    static UINT64 per_us;
    UINT32 lo, hi;
    (void)ctx;
    if (!per_us) {
        __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
        UINT64 c0 = ((UINT64)hi << 32) | lo;
        BS->Stall(10000);
        __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
        per_us = ((((UINT64)hi << 32) | lo) - c0) / 10000;
        if (!per_us)
            per_us = 1;
    }
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return (((UINT64)hi << 32) | lo) / per_us;
}

const struct ul_clock_ops ul_efi_clock_ops = { .now = clock_now, .micros = clock_micros };

/* ---- text output ---- */

void ul_efi_print(const char *msg)
{
    CHAR16 buf[161];
    UINTN n = 0;

    for (const char *p = msg;; p++) {
        if (*p == '\n' && (p == msg || p[-1] != '\r'))
            buf[n++] = L'\r';
        if (*p)
            buf[n++] = (CHAR16)(unsigned char)*p;
        if (!*p || n >= 158) {
            buf[n] = 0;
            ST->ConOut->OutputString(ST->ConOut, buf);
            n = 0;
            if (!*p)
                break;
        }
    }
}

void ul_efi_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    ul_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ul_efi_print(buf);
}

static void set_attr(UINTN attr)
{
    ST->ConOut->SetAttribute(ST->ConOut, attr);
}

#define ATTR_NORMAL EFI_TEXT_ATTR(EFI_LIGHTGRAY, EFI_BLACK)
#define ATTR_TITLE EFI_TEXT_ATTR(EFI_WHITE, EFI_BLUE)
#define ATTR_SELECTED EFI_TEXT_ATTR(EFI_BLACK, EFI_LIGHTGRAY)
#define ATTR_DIM EFI_TEXT_ATTR(EFI_DARKGRAY, EFI_BLACK)
#define ATTR_WARN EFI_TEXT_ATTR(EFI_YELLOW, EFI_BLACK)

static void sink_write(void *ctx, enum ul_log_level level, const char *msg)
{
    (void)ctx;
    if (level <= UL_LOG_WARNING)
        set_attr(ATTR_WARN);
    ul_efi_printf("unloop: %s%s\n", level == UL_LOG_ERROR ? "error: " : "", msg);
    if (level <= UL_LOG_WARNING)
        set_attr(ATTR_NORMAL);
}

const struct ul_log_sink_ops ul_efi_console_sink = { .write = sink_write };

/* ---- keys ---- */

/* Wait for a key for at most timeout_100ns (0 = forever).
 * Returns EFI_TIMEOUT on expiry. */
static EFI_STATUS wait_key(UINT64 timeout_100ns, EFI_INPUT_KEY *key)
{
    EFI_EVENT events[2];
    EFI_EVENT timer = NULL;
    UINTN n = 1, index = 0;
    EFI_STATUS st;

    events[0] = ST->ConIn->WaitForKey;
    if (timeout_100ns) {
        st = BS->CreateEvent(EVT_TIMER, 0, NULL, NULL, &timer);
        if (EFI_ERROR(st))
            return st;
        BS->SetTimer(timer, TimerRelative, timeout_100ns);
        events[n++] = timer;
    }
    st = BS->WaitForEvent(n, events, &index);
    if (timer)
        BS->CloseEvent(timer);
    if (EFI_ERROR(st))
        return st;
    if (index == 1)
        return EFI_TIMEOUT;
    return ST->ConIn->ReadKeyStroke(ST->ConIn, key);
}

void ul_efi_pause(UINTN seconds)
{
    EFI_INPUT_KEY key;
    wait_key((UINT64)seconds * 10000000ULL, &key);
}

/* ---- menu ---- */

static void draw_menu(const struct ul_menu *m, uint32_t sel)
{
    ST->ConOut->ClearScreen(ST->ConOut);
    set_attr(ATTR_TITLE);
    ul_efi_printf(" %-76s \n", m->title);
    set_attr(ATTR_NORMAL);
    ul_efi_print("\n");
    for (uint32_t i = 0; i < m->n_lines; i++)
        ul_efi_printf("  %s\n", m->lines[i]);
    ul_efi_print("\n");
    for (uint32_t i = 0; i < m->n_items; i++) {
        const struct ul_menu_item *it = &m->items[i];
        set_attr(i == sel ? ATTR_SELECTED : it->available ? ATTR_NORMAL : ATTR_DIM);
        ul_efi_printf(" %s %c. %s", i == sel ? ">" : " ", it->key, it->label);
        if (!it->available)
            ul_efi_printf("  [%s]", it->note);
        set_attr(ATTR_NORMAL);
        ul_efi_print("\n");
    }
    ul_efi_printf("\n  Press 1-%u, or use the arrow keys and Enter.\n", m->n_items);
}

static void draw_countdown(const struct ul_menu *m, uint32_t left)
{
    ul_efi_printf("\r  '%s' in %u s (any key stops the countdown)   ",
                  m->items[m->default_index].label, left);
}

static int ui_menu(void *ctx, const struct ul_menu *m, uint32_t *ret_index, bool *ret_timed_out)
{
    uint32_t sel = m->default_index, left = m->timeout;
    bool counting = !m->wait;
    EFI_INPUT_KEY key;
    (void)ctx;

    *ret_timed_out = false;
    ST->ConIn->Reset(ST->ConIn, FALSE);
    draw_menu(m, sel);
    for (;;) {
        if (counting) {
            if (left == 0) {
                ul_efi_print("\n");
                *ret_index = m->default_index;
                *ret_timed_out = true;
                return 0;
            }
            draw_countdown(m, left);
        }
        EFI_STATUS st = wait_key(counting ? 10000000ULL : 0, &key);
        if (st == EFI_TIMEOUT) {
            left--;
            continue;
        }
        if (EFI_ERROR(st))
            return ul_efi_err(st);
        if (counting) {
            counting = false;
            ul_efi_print("\r  countdown stopped                                                  \n");
        }
        if (key.ScanCode == SCAN_UP && sel > 0) {
            draw_menu(m, --sel);
        } else if (key.ScanCode == SCAN_DOWN && sel + 1 < m->n_items) {
            draw_menu(m, ++sel);
        } else if (key.UnicodeChar == CHAR_CARRIAGE_RETURN || key.UnicodeChar == CHAR_LINEFEED) {
            *ret_index = sel;
            return 0;
        } else if (key.UnicodeChar < 0x80) {
            int i = ul_menu_find_key(m, (char)key.UnicodeChar);
            if (i >= 0) {
                *ret_index = (uint32_t)i;
                return 0;
            }
        }
    }
}

static int ui_show_text(void *ctx, const char *title, const char *text)
{
    EFI_INPUT_KEY key;
    UINTN cols = 80, rows = 25;
    (void)ctx;

    ST->ConOut->QueryMode(ST->ConOut, ST->ConOut->Mode->Mode, &cols, &rows);
    /* Show as many of the last lines as fit on the screen. */
    UINTN want = rows > 4 ? rows - 4 : 1, lines = 0;
    size_t len = ul_strlen(text), start = len;
    while (start > 0) {
        if (text[start - 1] == '\n' && start != len && ++lines >= want)
            break;
        start--;
    }
    ST->ConOut->ClearScreen(ST->ConOut);
    set_attr(ATTR_TITLE);
    ul_efi_printf(" %-76s \n", title);
    set_attr(ATTR_NORMAL);
    ul_efi_print(text + start);
    ul_efi_print("\n  Press any key to return to the menu.");
    ST->ConIn->Reset(ST->ConIn, FALSE);
    wait_key(0, &key);
    return 0;
}

static void ui_notice(void *ctx, const char *msg)
{
    (void)ctx;
    set_attr(ATTR_WARN);
    ul_efi_printf("\n  %s\n", msg);
    set_attr(ATTR_NORMAL);
    ul_efi_pause(3);
}

/* ---- BitLocker recovery password ---- */

static void draw_rp_line(const struct ul_rp_entry *e)
{
    char line[UL_BITLOCKER_RP_SIZE];
    ul_rp_entry_render(e, '_', line);
    ul_efi_printf("\r  %s  ", line);
    ul_explicit_bzero(line, sizeof(line));
}

/*
 * Windows' own recovery screen, on the text console: the protector ID to
 * look the key up by, then the 48 digits typed group by group, each group
 * checked as its 6th digit is typed (a bad one is cleared at once).  The
 * countdown stops at the first key; with no key at all it gives up after
 * p->timeout_s seconds so that an unattended machine goes on (to Safe Mode).
 */
int ul_efi_ask_recovery_password(void *ctx, const struct ul_rp_prompt *p,
                                 char out[UL_BITLOCKER_RP_SIZE])
{
    struct ul_rp_entry e;
    char id[UL_GUID_STR_LEN + 1];
    uint32_t left = p->timeout_s ? p->timeout_s : 30;
    bool counting = true;
    EFI_INPUT_KEY key;
    int r = -UL_ECANCELED;
    (void)ctx;

    ul_memset(out, 0, UL_BITLOCKER_RP_SIZE);
    ul_rp_entry_init(&e);
    ul_guid_format(&p->protector, id);
    for (char *c = id; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    ST->ConIn->Reset(ST->ConIn, FALSE);
    ST->ConOut->ClearScreen(ST->ConOut);
    set_attr(ATTR_TITLE);
    ul_efi_printf(" %-76s \n", "BitLocker recovery");
    set_attr(ATTR_NORMAL);
    ul_efi_printf("\n  The Windows drive, %s, is BitLocker-encrypted. To move the faulty\n"
                  "  files aside unloop needs its recovery key.\n\n"
                  "  Recovery key ID: %.8s  (full ID: %s)\n"
                  "  Look it up at aka.ms/myrecoverykey, in Active Directory or in Entra ID.\n\n"
                  "  Type the 48-digit recovery key (F1-F10 work as 1-9, 0). Enter to unlock,\n"
                  "  Esc to skip (unloop then uses Safe Mode, which needs no key).\n\n",
                  p->volume, id, id);
    if (p->retry) {
        set_attr(ATTR_WARN);
        ul_efi_printf("  %s\n\n", p->retry);
        set_attr(ATTR_NORMAL);
    }
    draw_rp_line(&e);
    for (;;) {
        if (counting) {
            if (left == 0) {
                ul_efi_print("\n  No key typed; skipping.\n");
                break;
            }
            ul_efi_printf("  (skipping in %u s) ", left);
        }
        EFI_STATUS st = wait_key(counting ? 10000000ULL : 0, &key);
        if (st == EFI_TIMEOUT) {
            left--;
            draw_rp_line(&e);
            continue;
        }
        if (EFI_ERROR(st)) {
            r = ul_efi_err(st);
            break;
        }
        if (counting) {
            counting = false;
            ul_efi_print("\r                                                                            ");
        }
        uint32_t ch = key.UnicodeChar;
        if (!ch && key.ScanCode >= SCAN_F1 && key.ScanCode <= SCAN_F10)
            ch = UL_RP_KEY_F(key.ScanCode - SCAN_F1 + 1);
        else if (!ch && key.ScanCode == SCAN_ESC)
            ch = 0x1b;
        enum ul_rp_event ev = ul_rp_entry_key(&e, ch);
        if (ev == UL_RP_EV_CANCEL) {
            ul_efi_print("\n  Skipped.\n");
            break;
        }
        if (ev == UL_RP_EV_GROUP_BAD) {
            enum ul_bitlocker_rp_error why;
            int g = ul_rp_entry_last_error(&e, &why);
            set_attr(ATTR_WARN);
            ul_efi_printf("\r  Group %d is not valid (%s); type it again.\n", g,
                          ul_bitlocker_rp_error_name(why));
            set_attr(ATTR_NORMAL);
        }
        if (ev == UL_RP_EV_SUBMIT && ul_rp_entry_get(&e, out) == 0) {
            ul_efi_print("\n  Unlocking...\n");
            r = 0;
            break;
        }
        if (ev == UL_RP_EV_INCOMPLETE) {
            set_attr(ATTR_WARN);
            ul_efi_print("\r  The key has 8 groups of 6 digits.\n");
            set_attr(ATTR_NORMAL);
        }
        draw_rp_line(&e);
    }
    ul_rp_entry_wipe(&e);
    return r;
}

const struct ul_ui_ops ul_efi_ui_ops = {
    .menu = ui_menu,
    .show_text = ui_show_text,
    .notice = ui_notice,
};
