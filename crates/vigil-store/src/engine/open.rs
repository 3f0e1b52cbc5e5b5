//! Opening a store: the directory lock, the manifest, leftovers of interrupted work, and
//! WAL replay.

use super::*;

/// Take the exclusive flock on `dir/LOCK`.
fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io("open", &path, e))?;
    // SAFETY: flock(2) takes a descriptor and flags and touches no memory; `file` keeps the
    // descriptor open for the duration of the call (and of the store).
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
            });
        }
        return Err(StoreError::io("lock", &path, e));
    }
    Ok(file)
}

fn create_dir(path: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(path).map_err(|e| StoreError::io("create", path, e))
}

/// Every regular file under `tables/<Table>/day=*/`, with the day directories.
fn data_files(tables_dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), StoreError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for &table in Table::ALL {
        let tdir = tables_dir.join(table.name());
        let Ok(days) = fs::read_dir(&tdir) else {
            continue;
        };
        for day in days {
            let day = day.map_err(|e| StoreError::io("list", &tdir, e))?;
            let ddir = day.path();
            if !ddir.is_dir() || !day.file_name().to_string_lossy().starts_with("day=") {
                continue;
            }
            for f in fs::read_dir(&ddir).map_err(|e| StoreError::io("list", &ddir, e))? {
                let f = f.map_err(|e| StoreError::io("list", &ddir, e))?;
                if f.path().is_file() {
                    files.push(f.path());
                }
            }
            dirs.push(ddir);
        }
    }
    Ok((files, dirs))
}

/// Open (or create) the store in `opts.dir` and replay its write-ahead log.
pub(super) fn open(opts: StoreOptions) -> Result<Store, StoreError> {
    let root = opts.dir.clone();
    let wal_dir = root.join("wal");
    let tables_dir = root.join("tables");
    for d in [&root, &wal_dir, &tables_dir] {
        create_dir(d)?;
    }
    let lock_file = lock_dir(&root)?;
    let (files_on_disk, day_dirs) = data_files(&tables_dir)?;
    let state = match state::load(&root)? {
        Some(s) => s,
        None if files_on_disk
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "parquet")) =>
        {
            return Err(StoreError::CorruptState {
                path: root.join(state::STATE_FILE),
                reason: "the file is missing but parquet files exist; restore it, or move \
                         the tables directory away to start empty"
                    .into(),
            });
        }
        None => State {
            next_file_id: 1,
            ..State::default()
        },
    };

    let mut view = View::new();
    let mut live = HashSet::new();
    for f in &state.files {
        let entry = FileEntry::new(
            &tables_dir,
            f.table,
            f.day,
            f.name.clone(),
            f.rows,
            f.bytes,
            f.min_ts,
            f.max_ts,
        );
        if !entry.path.is_file() {
            tracing::error!(file = %entry.path.display(), rows = f.rows, "a parquet file the manifest lists is missing; its rows are lost");
            continue;
        }
        live.insert(entry.path.clone());
        view.table_mut(f.table)
            .files
            .entry(f.day)
            .or_default()
            .push(Arc::new(entry));
    }
    // Files the manifest does not list are leftovers of an interrupted flush or compaction.
    for p in files_on_disk.iter().filter(|p| !live.contains(*p)) {
        tracing::info!(file = %p.display(), "removing a parquet file the manifest does not list");
        fs::remove_file(p).map_err(|e| StoreError::io("remove", p, e))?;
    }
    for d in day_dirs {
        let _ = fs::remove_dir(d); // only succeeds when empty
    }
    let _ = fs::remove_file(root.join(format!("{}.tmp", state::STATE_FILE)));

    // Replay the WAL: every record's rows that the manifest's ranges do not cover.
    let mut dedupe = Dedupe::from_snapshot(&state.ranges);
    let mut lsn = 0u64;
    let mut old_segments = Vec::new();
    let segments = wal::list_segments(&wal_dir)?;
    let mut replayed = 0usize;
    for (id, path) in &segments {
        let replay = wal::replay_segment(path, |rec| {
            lsn += 1;
            let end = rec.first_seq + rec.events.len() as u64;
            let (missing, _) = dedupe.check(&rec.device_id, &rec.boot_id, rec.first_seq, end);
            if missing.is_empty() {
                return Ok(());
            }
            for &(s, e) in &missing {
                dedupe.insert(&rec.device_id, &rec.boot_id, s, e);
                replayed += (e - s) as usize;
            }
            let hot = build_hot(&rec.device_id, &rec.events, rec.first_seq, &missing).map_err(
                |reason| StoreError::CorruptState {
                    path: path.clone(),
                    reason: format!(
                        "a write-ahead log record of device {} does not decode: {reason}",
                        rec.device_id
                    ),
                },
            )?;
            for (table, batch, min_ts, max_ts) in hot {
                view.table_mut(table).hot.push(HotBatch {
                    batch,
                    generation: 0,
                    lsn,
                    arrival: rec.arrival,
                    min_ts,
                    max_ts,
                });
            }
            Ok(())
        })?;
        old_segments.push((*id, path.clone(), replay.valid_bytes));
    }
    if !segments.is_empty() {
        tracing::info!(
            segments = segments.len(),
            rows = replayed,
            "replayed the write-ahead log"
        );
    }

    let shared = Arc::new(Shared {
        view: RwLock::new(view),
        durable: AtomicU64::new(lsn),
    });
    let ctx = query::new_context(&shared, opts.query_memory_bytes)?;
    let n_old = old_segments.len();
    Ok(Store {
        inner: Arc::new(Inner {
            wal_dir,
            tables_dir,
            _lock: lock_file,
            core: Mutex::new(Core {
                dedupe,
                segment: None,
                next_segment_id: segments.last().map_or(1, |(id, _)| id + 1),
                old_segments,
                last_lsn: lsn,
                generation: 0,
            }),
            commit: Mutex::new(Commit {
                written: lsn,
                durable: lsn,
                syncing: false,
                file: None,
                failed: Vec::new(),
                waiters: 0,
            }),
            committed: Condvar::new(),
            shared,
            maint: Mutex::new(Maint {
                flushed_ranges: state.ranges,
                next_file_id: state.next_file_id.max(1),
            }),
            compacting: Mutex::new(()),
            coalescing: Mutex::new(()),
            room_lock: Mutex::new(()),
            room: Condvar::new(),
            ctx,
            rows_stored: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            old_segments: AtomicUsize::new(n_old),
            last_flush: AtomicI64::new(state.last_flush.map_or(i64::MIN, |t| t.nanos())),
            retention_days: std::sync::atomic::AtomicU32::new(opts.retention_days),
            opts,
        }),
    })
}
