//! A VFS that writes a transaction's WAL frames with one system call instead of two per page, and
//! a checkpoint's consecutive pages in the database file with one call instead of one per page.
//!
//! SQLite appends a frame to the WAL as two writes: the 24-byte frame header, then the page. A
//! commit of 25 pages is 50 `pwrite` calls, and on ext4 each one looks up, locks and dirties the
//! page-cache pages it touches (a frame of 4,120 bytes straddles two of them). Writing 1,000,000
//! items through BatchWriteItem, those calls took about 40% of the store writer's time
//! (`perf`, `benches/writes.rs` in the dynamodb crate). No SQLite option changes this, and no
//! crate offers a shim VFS for it, so this one is written here: about the smallest VFS there is.
//! With it, old and new binaries run alternately on the same 2-core machine (medians of three):
//! `writes --items 1000000` 242,929 -> 304,625 items/s (ratio to the floor 3.97x -> 3.06x), and
//! the queue cycle of `benches/queue.rs` in the sqs crate 86,529 -> 100,976 msgs/s at depth 1,000.
//! The system calls on the WAL fell from 131,642 to 33,566 writing 200,000 items (`strace -c`).
//!
//! The `cascade-wal` VFS is the platform's default VFS with one change: a file opened as a WAL
//! gets methods that gather consecutive appends in a buffer and write them as one call, and so
//! does the main database file (below). Every other file is the default VFS's own object,
//! untouched.
//!
//! The rules, which keep every guarantee SQLite makes about the WAL file:
//! - Only appends are gathered: the WAL header (32 bytes at offset 0) or a frame header that does
//!   not mark a commit starts a run; each write that continues the run at its end joins it.
//! - A commit frame's header ends the run: the run and the header are written at once, before the
//!   write returns, and the commit frame's page is written by itself right after. SQLite makes a
//!   commit visible to readers (the wal-index header) only after both writes have returned, and a
//!   commit is acknowledged after that, so everything acknowledged is in the file, as before:
//!   a killed process loses only frames of a transaction that never committed.
//! - Any other use of the file (read, sync, size, truncate, file control, close) and any write
//!   elsewhere first writes the run out, so the file always reads as if nothing were gathered. A
//!   failed write out is that call's error.
//! - A run holds at most [`RUN_LIMIT`] bytes; a write that would not fit ends it.
//!
//! The main database file is written only by checkpoints, which copy pages from the WAL one write
//! per page, in ascending page order. Most pages a checkpoint copies are new ones at the end of
//! the file, so most writes continue the one before: in W1, 17,126 writes of the checkpointer
//! thread fell in 295 runs of consecutive pages (`strace` for 3 s of the drain); gathered, the
//! checkpointer's write calls in 4 s of the drain fell from 66,235 to 2,713 (`/proc/<tid>/io`),
//! and the engine's CPU time per W1 run by about 4% (three alternated pairs, each run's taken
//! relative to the unchanged functions' as a yardstick of the VM's speed). There every write that
//! continues the run joins it, and the same rules hold for everything else (including a
//! memory-mapped read). What makes this safe:
//! - Other connections read the database file through their own handles, so they see only what
//!   was written out. SQLite lets a reader take a page from the database file only once the
//!   checkpoint that copied it has recorded its progress (the wal-index's `nBackfill`); before,
//!   every reader that may need the page reads it from the WAL.
//! - A checkpoint records its progress only after it has ended its copying with a file control
//!   (`SQLITE_FCNTL_CKPT_DONE`) and synced the database file, and each of those writes the run out
//!   first. (A test that reads while checkpoints run fails when both forward without it.)
//! - A killed process loses only writes of a checkpoint that never recorded itself, whose pages
//!   the WAL still holds: the next checkpoint copies them again.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS name to open store connections with.
pub(crate) const NAME: &CStr = c"cascade-wal";

/// The most a run holds: the default VFS on Unix writes at most 128 KiB less one byte per call
/// (it never needs more: a page is at most 64 KiB), so a run stays below that.
const RUN_LIMIT: usize = 124 << 10;

const WAL_HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// Registers the VFS once per process; later calls return the first outcome.
pub(crate) fn register() -> Result<(), c_int> {
    static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find` initializes SQLite if needed and returns the default VFS,
        // which lives as long as the process. The new VFS is leaked: SQLite keeps a pointer to it
        // for the rest of the process.
        unsafe {
            let base = ffi::sqlite3_vfs_find(std::ptr::null());
            if base.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            let real_size = usize::try_from((*base).szOsFile).map_err(|_| ffi::SQLITE_ERROR)?;
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                szOsFile: c_int::try_from(REAL_AT + real_size).map_err(|_| ffi::SQLITE_ERROR)?,
                pNext: std::ptr::null_mut(),
                zName: NAME.as_ptr(),
                xOpen: Some(open),
                // Everything else is the default VFS's, which reads nothing from the VFS object
                // but `pAppData` and `mxPathname`, copied here unchanged.
                ..*base
            }));
            BASE.set(Base(base)).map_err(|_| ffi::SQLITE_ERROR)?;
            match ffi::sqlite3_vfs_register(vfs, 0) {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(rc),
            }
        }
    })
}

/// The default VFS this one delegates to.
struct Base(*mut ffi::sqlite3_vfs);
// SAFETY: a VFS object is immutable after registration and SQLite calls it from any thread.
unsafe impl Send for Base {}
unsafe impl Sync for Base {}
static BASE: OnceLock<Base> = OnceLock::new();

/// A WAL or main database file: this struct, then the default VFS's own file object at
/// [`REAL_AT`], in the one allocation of `szOsFile` bytes SQLite makes for every file.
#[repr(C)]
struct Gathered {
    /// Must come first: SQLite reads the methods through it.
    file: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    run: *mut Run,
}

/// Where the default VFS's file object sits in a [`Gathered`]'s allocation.
const REAL_AT: usize = std::mem::size_of::<Gathered>().next_multiple_of(16);

/// Consecutive writes not yet made: `bytes` belong at file offset `at`.
#[derive(Default)]
struct Run {
    at: i64,
    bytes: Vec<u8>,
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// A main database file's methods: [`WAL_METHODS`], and the shared-memory and memory-map methods
/// a database file has besides (version 3), forwarded.
static DB_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
    ..WAL_METHODS
};

/// SAFETY (this and every method below): SQLite hands `open` an allocation of this VFS's
/// `szOsFile` bytes, room for a [`Gathered`] and the default VFS's object at [`REAL_AT`]. The
/// methods are reached only through [`WAL_METHODS`], which only `open` installs, on the
/// [`Gathered`] it wrote; SQLite uses a file from one thread at a time and never after `close`.
unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(base) = BASE.get().map(|b| b.0) else {
        return ffi::SQLITE_ERROR;
    };
    let Some(base_open) = (*base).xOpen else {
        return ffi::SQLITE_ERROR;
    };
    let methods = if flags & ffi::SQLITE_OPEN_WAL != 0 {
        &WAL_METHODS
    } else if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        &DB_METHODS
    } else {
        // Neither: the default VFS's own object fills the allocation from its start.
        return base_open(base, name, file, flags, out_flags);
    };
    let real = file.cast::<u8>().add(REAL_AT).cast::<ffi::sqlite3_file>();
    let rc = base_open(base, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // SQLite closes a file only if its methods are set.
        (*file).pMethods = std::ptr::null();
        return rc;
    }
    if std::ptr::eq(methods, &DB_METHODS)
        && (*real).pMethods.as_ref().is_none_or(|m| m.iVersion < 3)
    {
        // A database file without shared memory cannot hold a WAL; not the default VFS's.
        if let Some(close) = (*real).pMethods.as_ref().and_then(|m| m.xClose) {
            close(real);
        }
        (*file).pMethods = std::ptr::null();
        return ffi::SQLITE_CANTOPEN;
    }
    file.cast::<Gathered>().write(Gathered {
        file: ffi::sqlite3_file { pMethods: methods },
        real,
        run: Box::into_raw(Box::default()),
    });
    ffi::SQLITE_OK
}

/// The WAL file behind SQLite's pointer, and the default VFS's methods for it.
unsafe fn parts<'a>(
    file: *mut ffi::sqlite3_file,
) -> (
    *mut ffi::sqlite3_file,
    &'a ffi::sqlite3_io_methods,
    &'a mut Run,
) {
    let gathered = &*file.cast::<Gathered>();
    (
        gathered.real,
        &*(*gathered.real).pMethods,
        &mut *gathered.run,
    )
}

/// Writes the run out, if there is one.
unsafe fn flush(
    real: *mut ffi::sqlite3_file,
    methods: &ffi::sqlite3_io_methods,
    run: &mut Run,
) -> c_int {
    if run.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(write) = methods.xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let Ok(len) = c_int::try_from(run.bytes.len()) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let rc = write(real, run.bytes.as_ptr().cast(), len, run.at);
    run.bytes.clear();
    rc
}

/// A write to a WAL or to the main database file.
///
/// In the WAL only appends are gathered, as the module's rules say. The main database file is
/// written only by checkpoints, which copy pages from the WAL in ascending page order, so most of
/// a checkpoint's writes continue the one before: there every write joins the run that it
/// continues, or starts one.
unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let wal = std::ptr::eq((*file).pMethods, &WAL_METHODS);
    let (real, methods, run) = parts(file);
    let Some(real_write) = methods.xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let Ok(len) = usize::try_from(amount) else {
        return real_write(real, data, amount, offset);
    };
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
    let (starts, commit) = if wal {
        let frame_header = len == FRAME_HEADER && offset >= WAL_HEADER as i64;
        let commit = frame_header && bytes[4..8] != [0; 4];
        let starts = (len == WAL_HEADER && offset == 0) || (frame_header && !commit);
        (starts, commit)
    } else {
        (len <= RUN_LIMIT, false)
    };
    let continues = !run.bytes.is_empty()
        && offset == run.at + run.bytes.len() as i64
        && run.bytes.len() + len <= RUN_LIMIT;
    if !continues {
        let rc = flush(real, methods, run);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if !starts {
            return real_write(real, data, amount, offset);
        }
        run.at = offset;
    }
    run.bytes.extend_from_slice(bytes);
    if commit {
        return flush(real, methods, run);
    }
    ffi::SQLITE_OK
}

/// Forwards a call to the default VFS's method after writing the run out.
macro_rules! after_flush {
    ($name:ident, $method:ident ( $($arg:ident : $ty:ty),* )) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            let (real, methods, run) = parts(file);
            let rc = flush(real, methods, run);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            match methods.$method {
                Some(method) => method(real $(, $arg)*),
                None => ffi::SQLITE_IOERR,
            }
        }
    };
}

/// Forwards a call that neither reads nor writes the file's bytes.
macro_rules! forward {
    ($name:ident, $method:ident ( $($arg:ident : $ty:ty),* ), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            let (real, methods, _) = parts(file);
            match methods.$method {
                Some(method) => method(real $(, $arg)*),
                None => $missing,
            }
        }
    };
}

after_flush!(read, xRead(data: *mut c_void, amount: c_int, offset: i64));
after_flush!(truncate, xTruncate(size: i64));
after_flush!(sync, xSync(flags: c_int));
after_flush!(file_size, xFileSize(size: *mut i64));
after_flush!(file_control, xFileControl(op: c_int, arg: *mut c_void));
forward!(lock, xLock(level: c_int), ffi::SQLITE_IOERR_LOCK);
forward!(unlock, xUnlock(level: c_int), ffi::SQLITE_IOERR_UNLOCK);
forward!(check_reserved_lock, xCheckReservedLock(out: *mut c_int), ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
forward!(sector_size, xSectorSize(), 4096);
forward!(device_characteristics, xDeviceCharacteristics(), 0);
// The database file's shared memory (the WAL index) and locks: none reads or writes the file's
// bytes. A memory-mapped read does, so `fetch` writes the run out first.
forward!(shm_map, xShmMap(region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void), ffi::SQLITE_IOERR_SHMMAP);
forward!(shm_lock, xShmLock(offset: c_int, n: c_int, flags: c_int), ffi::SQLITE_IOERR_SHMLOCK);
forward!(shm_unmap, xShmUnmap(delete: c_int), ffi::SQLITE_OK);
forward!(unfetch, xUnfetch(offset: i64, page: *mut c_void), ffi::SQLITE_OK);

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // No mapping unless the call succeeds, as the default VFS answers.
    *out = std::ptr::null_mut();
    let (real, methods, run) = parts(file);
    let rc = flush(real, methods, run);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods.xFetch {
        Some(fetch) => fetch(real, offset, amount, out),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let (real, methods, _) = parts(file);
    if let Some(barrier) = methods.xShmBarrier {
        barrier(real);
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, methods, run) = parts(file);
    let flushed = flush(real, methods, run);
    let closed = match methods.xClose {
        Some(close) => close(real),
        None => ffi::SQLITE_OK,
    };
    let gathered = &mut *file.cast::<Gathered>();
    drop(Box::from_raw(gathered.run));
    gathered.run = std::ptr::null_mut();
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

/// Syncs the main database file of `conn` to disk, as a checkpoint that copies the whole WAL
/// does before the WAL may start over; done ahead of that checkpoint, it leaves the checkpoint
/// little to write back.
pub(crate) fn sync_database_file(conn: &rusqlite::Connection) -> c_int {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: SQLITE_FCNTL_FILE_POINTER stores the connection's open `sqlite3_file` for "main"
    // into `file`, which stays valid while the connection is open; `conn` is borrowed, so it is,
    // and only this thread uses the connection meanwhile.
    unsafe {
        let rc = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            std::ptr::addr_of_mut!(file).cast(),
        );
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        match file
            .as_ref()
            .and_then(|f| f.pMethods.as_ref())
            .and_then(|m| m.xSync)
        {
            Some(sync) => sync(file, ffi::SQLITE_SYNC_NORMAL),
            None => ffi::SQLITE_OK,
        }
    }
}
