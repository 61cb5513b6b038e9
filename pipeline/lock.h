/* lock: one writing run per workdir. Rank 0 creates <workdir>/.lock atomically (a hard link
 * of a file already holding host, PID, start time and the command line, which works on NFS
 * and Lustre across nodes where flock may not); every rank learns the verdict. Stale locks
 * of dead processes on this host are cleared; others are named with the way to clear them.
 * docs/operations.md ("One run per workdir"). */
#ifndef CURATE_LOCK_H
#define CURATE_LOCK_H

/* Collective. Takes the lock of workdir (created if missing) for command (the command
 * line, for the holder's description). 0 when held by this process; -1 on every rank with
 * err_set on rank 0 naming the holder (host, PID, start time) and how to clear it. Rank 0
 * logs a warning when it clears a stale lock. The lock is released by lock_release, at
 * exit(), and on SIGTERM, SIGINT or SIGHUP. */
int lock_take(const char *workdir, const char *command);

/* Removes the lock this process holds; a no-op when it holds none. */
void lock_release(void);
/* From a signal handler (async-signal-safe): removes the lock file this process holds. */
void lock_release_on_signal(void);

/* For `curate unlock`, rank 0 only: removes workdir's lock unless its holder is alive on
 * this host. 1 removed (what is written to *holder, caller frees), 0 no lock, -1 with
 * err_set (alive, or the file cannot be removed). */
int lock_clear(const char *workdir, char **holder);

#endif
