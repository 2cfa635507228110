/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop-agent.exe: the Windows service that tells unloop a boot was good.
 * The logic is shared/agent.c; this file gives it the ESP (found among the
 * volumes by its GPT type, or --esp), the clock, a wait that the service
 * control manager can cut short, service checks through the SCM, and the
 * Safe Mode hook (`bcdedit /deletevalue {default} safeboot`: Windows holds
 * the BCD store open, so it cannot be edited on the ESP while Windows runs).
 *
 *   unloop-agent.exe --console [options]    in the foreground (Ctrl-C stops)
 *   unloop-agent.exe --install [options]    register the service (LocalSystem,
 *                                           automatic start, also in Safe Mode)
 *   unloop-agent.exe --uninstall            stop and remove it
 *   unloop-agent.exe --service [options]    what the SCM starts
 *
 * Settings: HKLM\SOFTWARE\unloop\agent string values Delay, Refresh, Retry,
 * Services, Esp (same syntax as the flags), then the command line, which wins.
 */
#include <windows.h>
#include <winioctl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "../shared/agent.h"
#include "../shared/string-util.h"
#include "../shared/ul-errno.h"
#include "../shared/unloop-contract.h"
#include "agent-opts.h"

#define SERVICE_NAME L"unloop-agent"
#define SERVICE_DISPLAY L"unloop boot-good agent"
#define SETTINGS_KEY L"SOFTWARE\\unloop\\agent"
#define SAFEBOOT_KEY L"SYSTEM\\CurrentControlSet\\Control\\SafeBoot\\"

static const char prog[] = "unloop-agent";
static HANDLE stop_event;
static bool as_service;
static HANDLE log_file = INVALID_HANDLE_VALUE;
static struct agent_opts opts;
static struct ul_log the_log;
static struct ul_agent the_agent;

/* ---- strings ---- */

static wchar_t *to_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static char *to_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s)
        WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static int win_err(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_SERVICE_DOES_NOT_EXIST:
        return -UL_ENOENT;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
        return -UL_EEXIST;
    case ERROR_ACCESS_DENIED:
        return -UL_EACCES;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return -UL_EBUSY;
    case ERROR_DISK_FULL:
        return -UL_ENOSPC;
    case ERROR_WRITE_PROTECT:
        return -UL_EROFS;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return -UL_ENOMEM;
    case ERROR_FILENAME_EXCED_RANGE:
        return -UL_ENAMETOOLONG;
    default:
        return -UL_EIO;
    }
}

/* ---- log sink: the console, or %ProgramData%\unloop\agent.log ---- */

static void open_log_file(void)
{
    wchar_t dir[MAX_PATH], path[MAX_PATH + 32], old[MAX_PATH + 32];
    DWORD n = GetEnvironmentVariableW(L"ProgramData", dir, MAX_PATH);
    if (n == 0 || n >= MAX_PATH - 16)
        return;
    wcscat(dir, L"\\unloop");
    CreateDirectoryW(dir, NULL);
    _snwprintf(path, MAX_PATH + 32, L"%ls\\agent.log", dir);
    _snwprintf(old, MAX_PATH + 32, L"%ls\\agent.log.1", dir);
    WIN32_FILE_ATTRIBUTE_DATA fa;
    if (GetFileAttributesExW(path, GetFileExInfoStandard, &fa) && fa.nFileSizeLow > 1024 * 1024)
        MoveFileExW(path, old, MOVEFILE_REPLACE_EXISTING);
    log_file = CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                           OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

static void sink(void *ctx, enum ul_log_level level, const char *msg)
{
    bool quiet = *(bool *)ctx;
    char line[400];
    SYSTEMTIME t;

    if (quiet && level > UL_LOG_WARNING)
        return;
    const char *lv = level == UL_LOG_ERROR ? "error: " : level == UL_LOG_WARNING ? "warning: " : "";
    if (!as_service) {
        fprintf(stderr, "%s: %s%s\n", prog, lv, msg);
        fflush(stderr);
        return;
    }
    if (log_file == INVALID_HANDLE_VALUE)
        return;
    GetSystemTime(&t);
    int n = snprintf(line, sizeof(line), "%04u-%02u-%02u %02u:%02u:%02uZ %s%s\r\n", t.wYear,
                     t.wMonth, t.wDay, t.wHour, t.wMinute, t.wSecond, lv, msg);
    if (n > 0) {
        DWORD w;
        WriteFile(log_file, line, (DWORD)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1), &w,
                  NULL);
    }
}

static const struct ul_log_sink_ops sink_ops = { .write = sink };

/* ---- the ESP as a ul_volume: files under a root such as S:\ or
 *      \\?\Volume{GUID}\ ---- */

struct win_volume {
    wchar_t root[MAX_PATH];     /* ends with a backslash */
};

static int vol_path(struct win_volume *v, const char *path, wchar_t *out, size_t size)
{
    while (*path == '\\')
        path++;
    int n = _snwprintf(out, size, L"%ls", v->root);
    if (n < 0)
        return -UL_ENAMETOOLONG;
    size_t len = (size_t)n;
    for (; *path; path++) {
        if (len + 1 >= size)
            return -UL_ENAMETOOLONG;
        /* Paths from the core are ASCII with backslashes (ops.h). */
        if ((unsigned char)*path >= 0x80)
            return -UL_EINVAL;
        out[len++] = (wchar_t)(*path == '/' ? '\\' : *path);
    }
    out[len] = 0;
    return 0;
}

static int v_read(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                  size_t *ret_read)
{
    wchar_t p[MAX_PATH * 2];
    int r = vol_path(ctx, path, p, MAX_PATH * 2);
    *ret_read = 0;
    if (r < 0)
        return r;
    HANDLE h = CreateFileW(p, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return win_err(GetLastError());
    LARGE_INTEGER li = { .QuadPart = (LONGLONG)off };
    if (!SetFilePointerEx(h, li, NULL, FILE_BEGIN)) {
        r = win_err(GetLastError());
        goto out;
    }
    while (*ret_read < len) {
        DWORD want = len - *ret_read > (1u << 20) ? (1u << 20) : (DWORD)(len - *ret_read), got;
        if (!ReadFile(h, (uint8_t *)buf + *ret_read, want, &got, NULL)) {
            r = win_err(GetLastError());
            goto out;
        }
        if (got == 0)
            break;
        *ret_read += got;
    }
out:
    CloseHandle(h);
    return r;
}

static int v_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    wchar_t p[MAX_PATH * 2];
    int r = vol_path(ctx, path, p, MAX_PATH * 2);
    if (r < 0)
        return r;
    HANDLE h = CreateFileW(p, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return win_err(GetLastError());
    /* Windows fills a gap past the end with zeros (ops.h asks for that). */
    LARGE_INTEGER li = { .QuadPart = (LONGLONG)off };
    if (!SetFilePointerEx(h, li, NULL, FILE_BEGIN)) {
        r = win_err(GetLastError());
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        DWORD want = len - done > (1u << 20) ? (1u << 20) : (DWORD)(len - done), put;
        if (!WriteFile(h, (const uint8_t *)buf + done, want, &put, NULL) || put == 0) {
            r = win_err(GetLastError());
            goto out;
        }
        done += put;
    }
    if (!FlushFileBuffers(h))
        r = win_err(GetLastError());
out:
    CloseHandle(h);
    return r;
}

static int v_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    wchar_t p[MAX_PATH * 2];
    WIN32_FILE_ATTRIBUTE_DATA fa;
    int r = vol_path(ctx, path, p, MAX_PATH * 2);
    if (r < 0)
        return r;
    if (!GetFileAttributesExW(p, GetFileExInfoStandard, &fa))
        return win_err(GetLastError());
    memset(ret, 0, sizeof(*ret));
    ret->size = (uint64_t)fa.nFileSizeHigh << 32 | fa.nFileSizeLow;
    ret->is_dir = fa.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY;
    /* FILETIME is what ul_times holds: 100 ns since 1601. */
#define FT(x) ((uint64_t)(x).dwHighDateTime << 32 | (x).dwLowDateTime)
    ret->times.creation = FT(fa.ftCreationTime);
    ret->times.modification = FT(fa.ftLastWriteTime);
    ret->times.access = FT(fa.ftLastAccessTime);
#undef FT
    return 0;
}

static int v_mkdir(void *ctx, const char *path)
{
    wchar_t p[MAX_PATH * 2];
    int r = vol_path(ctx, path, p, MAX_PATH * 2);
    if (r < 0)
        return r;
    return CreateDirectoryW(p, NULL) ? 0 : win_err(GetLastError());
}

static int v_rename(void *ctx, const char *from, const char *to)
{
    wchar_t a[MAX_PATH * 2], b[MAX_PATH * 2];
    int r = vol_path(ctx, from, a, MAX_PATH * 2);
    if (r == 0)
        r = vol_path(ctx, to, b, MAX_PATH * 2);
    if (r < 0)
        return r;
    return MoveFileExW(a, b, MOVEFILE_WRITE_THROUGH) ? 0 : win_err(GetLastError());
}

static int v_remove(void *ctx, const char *path)
{
    wchar_t p[MAX_PATH * 2];
    int r = vol_path(ctx, path, p, MAX_PATH * 2);
    if (r < 0)
        return r;
    return DeleteFileW(p) ? 0 : win_err(GetLastError());
}

static const struct ul_volume_ops win_volume_ops = {
    .read = v_read, .write = v_write, .stat = v_stat,
    .mkdir = v_mkdir, .rename = v_rename, .remove = v_remove,
};

/* ---- finding the ESP ---- */

/* The EFI system partition's GPT type, c12a7328-f81f-11d2-ba4b-00a0c93ec93b
 * (UEFI 2.10 §5.3.3, table 5-7). */
static const GUID esp_type = { 0xc12a7328, 0xf81f, 0x11d2,
                               { 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b } };

static bool is_esp_volume(const wchar_t *vol_name)
{
    /* The volume device is the name without its trailing backslash. */
    wchar_t dev[MAX_PATH];
    size_t n = wcslen(vol_name);
    if (n == 0 || n >= MAX_PATH)
        return false;
    wcscpy(dev, vol_name);
    if (dev[n - 1] == L'\\')
        dev[n - 1] = 0;
    HANDLE h = CreateFileW(dev, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0,
                           NULL);
    if (h == INVALID_HANDLE_VALUE)
        return false;
    PARTITION_INFORMATION_EX pi;
    DWORD got;
    bool ok = DeviceIoControl(h, IOCTL_DISK_GET_PARTITION_INFO_EX, NULL, 0, &pi, sizeof(pi), &got,
                              NULL) &&
              pi.PartitionStyle == PARTITION_STYLE_GPT &&
              memcmp(&pi.Gpt.PartitionType, &esp_type, sizeof(GUID)) == 0;
    CloseHandle(h);
    return ok;
}

static bool root_has(const wchar_t *root, const wchar_t *rel)
{
    wchar_t p[MAX_PATH * 2];
    _snwprintf(p, MAX_PATH * 2, L"%ls%ls", root, rel);
    return GetFileAttributesW(p) != INVALID_FILE_ATTRIBUTES;
}

/*
 * Every GPT volume of the ESP type; the one holding \EFI\unloop\state wins,
 * then one with \EFI\unloop, then the first (a machine with two disks has
 * two ESPs, and only one of them is the one unloop.efi boots from).
 */
static int find_esp(wchar_t *out, size_t size, struct ul_log *log)
{
    wchar_t name[MAX_PATH], best[MAX_PATH] = L"";
    int best_score = -1, found = 0;
    HANDLE f = FindFirstVolumeW(name, MAX_PATH);
    if (f == INVALID_HANDLE_VALUE)
        return ul_log_err(log, win_err(GetLastError()), "cannot list the volumes");
    do {
        if (!is_esp_volume(name))
            continue;
        found++;
        int score = root_has(name, L"EFI\\unloop\\state") ? 2
                    : root_has(name, L"EFI\\unloop")      ? 1
                                                          : 0;
        if (score > best_score) {
            best_score = score;
            wcscpy(best, name);
        }
    } while (FindNextVolumeW(f, name, MAX_PATH));
    FindVolumeClose(f);
    if (!found) {
        ul_logf(log, UL_LOG_ERROR, "no EFI system partition found among the volumes; "
                "name it with --esp (e.g. after mountvol S: /s, --esp S:\\)");
        return -UL_ENODEV;
    }
    if (found > 1) {
        char *u = to_utf8(best);
        ul_logf(log, UL_LOG_NOTICE, "%d EFI system partitions; using %s", found, u ? u : "?");
        free(u);
    }
    if (wcslen(best) >= size)
        return -UL_ENAMETOOLONG;
    wcscpy(out, best);
    return 0;
}

static int set_esp(struct win_volume *v, const char *given)
{
    wchar_t *w = to_wide(given);
    if (!w)
        return -UL_ENOMEM;
    size_t n = wcslen(w);
    if (n == 0 || n + 2 >= MAX_PATH) {
        free(w);
        return -UL_ENAMETOOLONG;
    }
    wcscpy(v->root, w);
    free(w);
    /* "S:" and "S:\" both mean the drive's root. */
    if (v->root[n - 1] != L'\\' && v->root[n - 1] != L'/')
        wcscat(v->root, L"\\");
    DWORD a = GetFileAttributesW(v->root);
    if (a == INVALID_FILE_ATTRIBUTES)
        return win_err(GetLastError());
    return a & FILE_ATTRIBUTE_DIRECTORY ? 0 : -UL_EINVAL;
}

/* ---- platform ops ---- */

static bool w_sleep(void *ctx, uint32_t ms)
{
    const struct agent_opts *o = ctx;
    if (o->stop_after && the_agent.refreshes >= o->stop_after)
        return true;
    return WaitForSingleObject(stop_event, ms) == WAIT_OBJECT_0;
}

static const char *state_name(DWORD s)
{
    switch (s) {
    case SERVICE_STOPPED: return "stopped";
    case SERVICE_START_PENDING: return "starting";
    case SERVICE_STOP_PENDING: return "stopping";
    case SERVICE_RUNNING: return "running";
    case SERVICE_CONTINUE_PENDING: return "continuing";
    case SERVICE_PAUSE_PENDING: return "pausing";
    case SERVICE_PAUSED: return "paused";
    }
    return "unknown state";
}

static int w_service_state(void *ctx, const char *name, char *why, size_t why_size)
{
    SERVICE_STATUS ss;
    int r;
    wchar_t *w = to_wide(name);
    if (!w)
        return -UL_ENOMEM;
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    if (!scm) {
        free(w);
        return win_err(GetLastError());
    }
    SC_HANDLE svc = OpenServiceW(scm, w, SERVICE_QUERY_STATUS);
    free(w);
    if (!svc) {
        r = win_err(GetLastError());
    } else if (!QueryServiceStatus(svc, &ss)) {
        r = win_err(GetLastError());
    } else {
        snprintf(why, why_size, "%s", state_name(ss.dwCurrentState));
        r = ss.dwCurrentState == SERVICE_RUNNING ? UL_AGENT_SVC_RUNNING : UL_AGENT_SVC_NOT_RUNNING;
    }
    if (svc)
        CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return r;
}

/* bcdedit /deletevalue {default} safeboot: the element unloop sets
 * (25000080, issue #4), on the default loader, as unloop.efi does. */
static int w_clear_safe_mode(void *ctx)
{
    wchar_t sys[MAX_PATH], cmd[MAX_PATH + 64];
    UINT n = GetSystemDirectoryW(sys, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return -UL_EIO;
    _snwprintf(cmd, MAX_PATH + 64, L"\"%ls\\bcdedit.exe\" /deletevalue {default} safeboot", sys);
    STARTUPINFOW si = { .cb = sizeof(si) };
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi))
        return win_err(GetLastError());
    DWORD code = 1;
    if (WaitForSingleObject(pi.hProcess, 60000) != WAIT_OBJECT_0)
        TerminateProcess(pi.hProcess, 1);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code == 0 ? 0 : -UL_EIO;
}

static bool w_in_safe_mode(void *ctx)
{
    /* Safe Mode sets this value; a normal boot has no Option key. */
    DWORD v = 0, size = sizeof(v);
    return RegGetValueW(HKEY_LOCAL_MACHINE, SAFEBOOT_KEY L"Option", L"OptionValue",
                        RRF_RT_REG_DWORD, NULL, &v, &size) == ERROR_SUCCESS && v != 0;
}

static const struct ul_agent_ops win_ops = {
    .sleep = w_sleep,
    .service_state = w_service_state,
    .clear_safe_mode = w_clear_safe_mode,
    .in_safe_mode = w_in_safe_mode,
};

static int w_now(void *ctx, struct ul_time *ret)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    uint64_t t = (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
    /* 100 ns since 1601 to seconds since 1970. */
    ret->secs = (int64_t)(t / 10000000ull) - 11644473600ll;
    ret->tz = 0;
    ret->valid = true;
    return 0;
}

static const struct ul_clock_ops win_clock_ops = { .now = w_now };

/* ---- settings from the registry ---- */

static int read_registry(struct agent_opts *o)
{
    static const struct { const wchar_t *value; const char *key; } map[] = {
        { L"Delay", "delay" }, { L"Refresh", "refresh" }, { L"Retry", "retry" },
        { L"Services", "services" }, { L"Esp", NULL },
    };
    static char esp_buf[MAX_PATH * 3];
    char err[200];

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        wchar_t w[2048];
        DWORD size = sizeof(w);
        LONG e = RegGetValueW(HKEY_LOCAL_MACHINE, SETTINGS_KEY, map[i].value, RRF_RT_REG_SZ, NULL,
                              w, &size);
        if (e == ERROR_FILE_NOT_FOUND)
            continue;
        if (e != ERROR_SUCCESS) {
            fprintf(stderr, "%s: HKLM\\%ls\\%ls: unreadable (error %ld; a string of at most "
                    "2047 characters is expected)\n", prog, SETTINGS_KEY, map[i].value, e);
            return -1;
        }
        char *v = to_utf8(w);
        if (!v)
            return -1;
        int r = 0;
        if (map[i].key) {
            r = ul_agent_config_set(&o->cfg, map[i].key, v, err, sizeof(err));
            if (r < 0)
                fprintf(stderr, "%s: HKLM\\%ls\\%ls: %s\n", prog, SETTINGS_KEY, map[i].value,
                        err);
        } else {
            snprintf(esp_buf, sizeof(esp_buf), "%s", v);
            o->esp = esp_buf;
        }
        free(v);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* ---- install / uninstall ---- */

static void print_win_error(const char *what)
{
    DWORD e = GetLastError();
    wchar_t msg[256] = L"";
    FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0, msg,
                   256, NULL);
    size_t n = wcslen(msg);
    while (n && (msg[n - 1] == L'\n' || msg[n - 1] == L'\r'))
        msg[--n] = 0;
    fprintf(stderr, "%s: %s: error %lu %ls\n", prog, what, (unsigned long)e, msg);
}

/* Safe Mode starts only the services listed under SafeBoot\Minimal (and
 * \Network): without these keys the agent could never bless the Safe Mode
 * boot that unloop's ladder step 4 asked for. */
static int set_safeboot_keys(bool add)
{
    static const wchar_t *const kinds[] = { L"Minimal", L"Network" };
    int rc = 0;
    for (size_t i = 0; i < 2; i++) {
        wchar_t key[160];
        _snwprintf(key, 160, L"%ls%ls\\%ls", SAFEBOOT_KEY, kinds[i], SERVICE_NAME);
        if (add) {
            static const wchar_t val[] = L"Service";
            LONG e = RegSetKeyValueW(HKEY_LOCAL_MACHINE, key, NULL, REG_SZ, val, sizeof(val));
            if (e != ERROR_SUCCESS) {
                SetLastError((DWORD)e);
                print_win_error("cannot register the service for Safe Mode");
                rc = -1;
            }
        } else {
            LONG e = RegDeleteKeyW(HKEY_LOCAL_MACHINE, key);
            if (e != ERROR_SUCCESS && e != ERROR_FILE_NOT_FOUND)
                rc = -1;
        }
    }
    return rc;
}

static int do_install(int argc, wchar_t **wargv)
{
    wchar_t exe[MAX_PATH], cmd[8192];
    if (!GetModuleFileNameW(NULL, exe, MAX_PATH)) {
        print_win_error("cannot find this program's path");
        return 1;
    }
    /* The service runs this program with --service and the settings given
     * here (everything but --install). */
    int n = _snwprintf(cmd, 8192, L"\"%ls\" --service", exe);
    for (int i = 1; i < argc && n > 0 && n < 8000; i++) {
        if (!wcscmp(wargv[i], L"--install"))
            continue;
        if (wcschr(wargv[i], L'"')) {
            fprintf(stderr, "%s: --install: arguments may not contain '\"'\n", prog);
            return 2;
        }
        /* Quoted for CommandLineToArgvW: backslashes before the closing
         * quote are doubled, or "S:\" would swallow the quote. */
        size_t len = wcslen(wargv[i]), tail = 0;
        while (tail < len && wargv[i][len - 1 - tail] == L'\\')
            tail++;
        n += _snwprintf(cmd + n, 8192 - (size_t)n, L" \"%ls%.*ls\"", wargv[i], (int)tail,
                        wargv[i] + len - tail);
    }
    if (n <= 0 || n >= 8000) {
        fprintf(stderr, "%s: --install: command line too long\n", prog);
        return 2;
    }
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
    if (!scm) {
        print_win_error("cannot open the service control manager (run as Administrator)");
        return 1;
    }
    SC_HANDLE svc = CreateServiceW(scm, SERVICE_NAME, SERVICE_DISPLAY, SERVICE_ALL_ACCESS,
                                   SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                   SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, NULL, NULL);
    if (!svc) {
        print_win_error("cannot create the service");
        CloseServiceHandle(scm);
        return 1;
    }
    SERVICE_DESCRIPTIONW desc = { .lpDescription =
        (wchar_t *)L"Tells unloop (the boot-loop recovery tool) that this boot was good, "
                   L"and keeps its last-good time current." };
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc);
    /* Started too early to find the ESP, or stopped by an error: try again
     * a minute later, twice, then every 10 minutes. */
    SC_ACTION actions[3] = { { SC_ACTION_RESTART, 60000 }, { SC_ACTION_RESTART, 60000 },
                             { SC_ACTION_RESTART, 600000 } };
    SERVICE_FAILURE_ACTIONSW fa = { .dwResetPeriod = 86400, .cActions = 3, .lpsaActions = actions };
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa);
    /* Also when it stops by itself with an error (no ESP found), not only
     * when the process dies. */
    SERVICE_FAILURE_ACTIONS_FLAG faf = { .fFailureActionsOnNonCrashFailures = TRUE };
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &faf);
    int rc = set_safeboot_keys(true) < 0 ? 1 : 0;
    printf("service %ls installed: %ls\n", SERVICE_NAME, cmd);
    if (!StartServiceW(svc, 0, NULL)) {
        print_win_error("service installed but not started");
        rc = 1;
    }
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rc;
}

static int do_uninstall(void)
{
    SERVICE_STATUS ss;
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    if (!scm) {
        print_win_error("cannot open the service control manager (run as Administrator)");
        return 1;
    }
    SC_HANDLE svc = OpenServiceW(scm, SERVICE_NAME, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
    if (!svc) {
        int rc = GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST ? 0 : 1;
        if (rc)
            print_win_error("cannot open the service");
        else
            printf("service %ls is not installed\n", SERVICE_NAME);
        CloseServiceHandle(scm);
        set_safeboot_keys(false);
        return rc;
    }
    if (ControlService(svc, SERVICE_CONTROL_STOP, &ss)) {
        for (int i = 0; i < 30 && QueryServiceStatus(svc, &ss) &&
                        ss.dwCurrentState != SERVICE_STOPPED; i++)
            Sleep(500);
    }
    int rc = 0;
    if (!DeleteService(svc)) {
        print_win_error("cannot delete the service");
        rc = 1;
    }
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    if (set_safeboot_keys(false) < 0)
        rc = 1;
    if (!rc)
        printf("service %ls removed\n", SERVICE_NAME);
    return rc;
}

/* ---- running ---- */

static struct win_volume esp_vol;

/* Returns the process exit code. */
static int run_agent(void)
{
    struct ul_clock clock = { &win_clock_ops, NULL };
    int r;

    ul_log_init(&the_log, &sink_ops, &opts.quiet, &clock, "agent");
    if (opts.esp) {
        r = set_esp(&esp_vol, opts.esp);
        if (r < 0) {
            ul_logf(&the_log, UL_LOG_ERROR, "cannot use %s as the ESP: %s", opts.esp,
                    ul_strerror(r));
            return 1;
        }
    } else if (find_esp(esp_vol.root, MAX_PATH, &the_log) < 0) {
        return 1;
    }
    char *u = to_utf8(esp_vol.root);
    ul_logf(&the_log, UL_LOG_INFO, "ESP: %s", u ? u : "?");
    free(u);

    the_agent.cfg = &opts.cfg;
    the_agent.ops = &win_ops;
    the_agent.ctx = &opts;
    the_agent.esp = (struct ul_volume){ &win_volume_ops, &esp_vol };
    the_agent.clock = clock;
    the_agent.log = &the_log;
    r = ul_agent_run(&the_agent);
    if (r == UL_AGENT_UNHEALTHY)
        return 3;
    return r < 0 || (!the_agent.blessed && opts.cfg.once) ? 1 : 0;
}

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = { .dwServiceType = SERVICE_WIN32_OWN_PROCESS };

static void report(DWORD state, DWORD exit_code)
{
    status.dwCurrentState = state;
    status.dwControlsAccepted = state == SERVICE_RUNNING
                                    ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN
                                    : 0;
    status.dwWin32ExitCode = exit_code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
    status.dwServiceSpecificExitCode = exit_code;
    status.dwWaitHint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : 10000;
    SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control(DWORD code, DWORD type, void *data, void *ctx)
{
    switch (code) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING, 0);
        SetEvent(stop_event);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    }
    return ERROR_CALL_NOT_IMPLEMENTED;
}

static void WINAPI service_main(DWORD argc, wchar_t **argv)
{
    status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, control, NULL);
    if (!status_handle)
        return;
    report(SERVICE_START_PENDING, 0);
    report(SERVICE_RUNNING, 0);
    int rc = run_agent();
    /* Blessed with refreshes off, or stopped: both are a clean stop. */
    report(SERVICE_STOPPED, (DWORD)rc);
}

static BOOL WINAPI on_ctrl(DWORD type)
{
    SetEvent(stop_event);
    return TRUE;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: %s.exe --console|--install|--uninstall|--service [options]\n"
               "Marks the boot good for unloop once Windows is up and healthy, then\n"
               "refreshes the last-good time while it stays healthy.\n\n"
               "  --console         run in the foreground (Ctrl-C stops)\n"
               "  --install         register and start the service with the options given\n"
               "  --uninstall       stop and remove the service\n"
               "  --service         run as the service (what the SCM starts)\n%s"
               "Settings are read first from HKLM\\SOFTWARE\\unloop\\agent (string values\n"
               "Delay, Refresh, Retry, Services, Esp), then from the command line.\n"
               "Exit status: 0 blessed or stopped, 1 failure, 2 usage, 3 checks failed (--once).\n",
            prog, agent_usage_common);
}

int wmain(int argc, wchar_t **wargv);
int wmain(int argc, wchar_t **wargv)
{
    char **argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!argv)
        return 1;
    for (int i = 0; i < argc; i++)
        if (!(argv[i] = to_utf8(wargv[i])))
            return 1;

    ul_agent_config_defaults(&opts.cfg);
    /* The registry only for running: --install records the flags given. */
    bool installing = false;
    for (int i = 1; i < argc; i++)
        installing |= !strcmp(argv[i], "--install") || !strcmp(argv[i], "--uninstall");
    if (!installing && read_registry(&opts) < 0)
        return 2;
    if (agent_opts_parse(&opts, argc, argv, 1, prog) < 0)
        return 2;
    if (opts.help) {
        usage(stdout);
        return 0;
    }
    if (opts.version) {
        printf("%s %s\n", prog, UL_VERSION);
        return 0;
    }
    if (opts.check_cmd || opts.safe_mode_cmd) {
        fprintf(stderr, "%s: --check-cmd and --safe-mode-cmd are for the Linux build\n", prog);
        return 2;
    }
    if (opts.console + opts.install + opts.uninstall + opts.service != 1) {
        fprintf(stderr, "%s: give one of --console, --install, --uninstall, --service "
                "(see --help)\n", prog);
        return 2;
    }
    if (opts.install)
        return do_install(argc, wargv);
    if (opts.uninstall)
        return do_uninstall();

    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!stop_event)
        return 1;
    if (opts.console) {
        SetConsoleCtrlHandler(on_ctrl, TRUE);
        return run_agent();
    }
    as_service = true;
    open_log_file();
    SERVICE_TABLE_ENTRYW table[] = { { (wchar_t *)SERVICE_NAME, service_main }, { NULL, NULL } };
    if (!StartServiceCtrlDispatcherW(table)) {
        as_service = false;
        print_win_error("--service: not started by the service control manager "
                        "(use --console to run in the foreground)");
        return 1;
    }
    return 0;
}
