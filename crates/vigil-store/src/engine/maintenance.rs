//! Maintenance: flushing hot rows to Parquet, compaction, retention and metrics. Each
//! commits by replacing the state file; see the crate docs for the order of operations.

use super::*;

/// Files with fewer rows than this are "small" and merged by compaction.
const SMALL_FILE_ROWS: u64 = 1_000_000;
/// Compaction merges a (table, day) once it has this many small files.
const COMPACT_MIN_FILES: usize = 4;

/// How the manifest lists a live file.
fn record(f: &FileEntry) -> FileRecord {
    FileRecord {
        table: f.table,
        day: f.day,
        name: f.name.clone(),
        rows: f.rows,
        bytes: f.bytes,
        min_ts: f.min_ts,
        max_ts: f.max_ts,
    }
}

impl Inner {
    /// The state file for the current view, with `ranges`.
    fn state_of(
        &self,
        maint: &Maint,
        view: &View,
        ranges: DedupeSnapshot,
        last_flush: Option<Timestamp>,
    ) -> State {
        State {
            next_file_id: maint.next_file_id,
            last_flush,
            files: view.all_files().map(|f| record(f)).collect(),
            ranges,
        }
    }

    fn last_flush(&self) -> Option<Timestamp> {
        let t = self.last_flush.load(Ordering::Relaxed);
        (t != i64::MIN).then_some(Timestamp(t))
    }

    /// Write the hot batches of one table to Parquet, one file per day; files get ids from
    /// `next_id` and are pushed to `out` as they are written.
    fn write_table(
        &self,
        table: Table,
        batches: &[RecordBatch],
        next_id: &AtomicU64,
        out: &mut Vec<Arc<FileEntry>>,
    ) -> Result<(), StoreError> {
        let (schema, ts) = (schema_of(table), ts_index(table));
        let sorted = partition::SortedRows::new(schema, batches, ts);
        for &(day, start, end) in sorted.days() {
            let name = file_name(next_id.fetch_add(1, Ordering::Relaxed));
            let dir = day_dir(&self.tables_dir, table, day);
            let w = partition::write_file(&dir, &name, schema, ts, sorted.chunks(start, end))?;
            out.push(Arc::new(FileEntry::written(
                &self.tables_dir,
                table,
                day,
                name,
                &w,
            )));
        }
        Ok(())
    }

    /// Write every hot row out; with `min_bytes`, only if the hot rows (checked once the flush
    /// lock is held) still hold at least that much memory, so that appends queued behind one
    /// flush do not each write a tiny one.
    pub(super) fn flush(&self, min_bytes: Option<usize>) -> Result<(), StoreError> {
        let mut maint = lock(&self.maint);
        if min_bytes.is_some_and(|min| self.hot_bytes() < min) {
            return Ok(());
        }
        // Close the WAL: everything written so far becomes durable and belongs to the closed
        // generation; the dedupe ranges at this instant describe exactly those rows.
        let (limit, ranges, segments) = {
            let mut core = lock(&self.core);
            let hot_rows: usize = read(&self.shared.view)
                .tables
                .iter()
                .map(|t| t.hot.rows)
                .sum();
            let idle = core.segment.as_ref().is_none_or(|s| s.len == 0);
            if hot_rows == 0 && core.old_segments.is_empty() && idle {
                return Ok(());
            }
            self.retire_segment(&mut core)
                .map_err(|reason| StoreError::Durability { reason })?;
            core.generation += 1;
            core.dedupe
                .settle(self.shared.durable.load(Ordering::Acquire));
            (
                core.generation,
                core.dedupe.snapshot(),
                core.old_segments.clone(),
            )
        };

        let work: Vec<(Table, Vec<RecordBatch>)> = {
            let view = read(&self.shared.view);
            Table::ALL
                .iter()
                .filter_map(|&t| {
                    let batches: Vec<RecordBatch> = view
                        .table(t)
                        .hot
                        .batches
                        .iter()
                        .filter(|b| b.generation < limit)
                        .map(|b| b.batch.clone())
                        .collect();
                    (!batches.is_empty()).then_some((t, batches))
                })
                .collect()
        };
        let now = Timestamp::now();
        let mut written: Vec<Arc<FileEntry>> = Vec::new();
        let result = (|| {
            // Tables are written in parallel (largest first), one thread per core: the flush
            // competes with ingest for the CPU, and a sequential one left a core idle.
            let mut work = work;
            work.sort_by_key(|(_, b)| {
                std::cmp::Reverse(b.iter().map(|b| b.num_rows()).sum::<usize>())
            });
            let next_id = AtomicU64::new(maint.next_file_id);
            let queue = Mutex::new(work.iter());
            let threads = std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 4);
            let outcomes: Vec<Result<Vec<Arc<FileEntry>>, StoreError>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..threads.min(work.len()))
                    .map(|_| {
                        s.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let Some((table, batches)) = lock(&queue).next() else {
                                    return Ok(mine);
                                };
                                if let Err(e) =
                                    self.write_table(*table, batches, &next_id, &mut mine)
                                {
                                    // What this worker wrote is reported so it can be retired.
                                    for f in &mine {
                                        f.retire();
                                    }
                                    return Err(e);
                                }
                            }
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| {
                        w.join().unwrap_or_else(|_| {
                            Err(StoreError::Durability {
                                reason: "a flush worker panicked".into(),
                            })
                        })
                    })
                    .collect()
            });
            maint.next_file_id = next_id.load(Ordering::Relaxed);
            let mut failure = None;
            for o in outcomes {
                match o {
                    Ok(files) => written.extend(files),
                    Err(e) => failure = Some(e),
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            let mut state =
                self.state_of(&maint, &read(&self.shared.view), ranges.clone(), Some(now));
            state.files.extend(written.iter().map(|f| record(f)));
            state::save(&self.opts.dir, &state)
        })();
        if let Err(e) = result {
            for f in &written {
                f.retire();
            }
            return Err(e);
        }
        maint.flushed_ranges = ranges;
        {
            let mut view = write(&self.shared.view);
            for f in written {
                view.table_mut(f.table)
                    .files
                    .entry(f.day)
                    .or_default()
                    .push(f);
            }
            for t in &mut view.tables {
                t.hot.remove_flushed(limit);
            }
        }
        self.last_flush.store(now.nanos(), Ordering::Relaxed);
        {
            let _g = lock(&self.room_lock);
            self.room.notify_all();
        }
        // The rows of the closed segments are in Parquet and the manifest says so.
        let mut core = lock(&self.core);
        for (id, path, _) in &segments {
            if let Err(e) = fs::remove_file(path) {
                tracing::warn!(segment = %path.display(), "cannot delete a flushed WAL segment: {e}");
            }
            core.old_segments.retain(|s| s.0 != *id);
        }
        self.old_segments
            .store(core.old_segments.len(), Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn compact(&self) -> Result<CompactReport, StoreError> {
        let _one = lock(&self.compacting);
        let candidates: Vec<(Table, i64, Vec<Arc<FileEntry>>)> = {
            let view = read(&self.shared.view);
            let mut out = Vec::new();
            for &t in Table::ALL {
                for (&day, files) in &view.table(t).files {
                    let small: Vec<Arc<FileEntry>> = files
                        .iter()
                        .filter(|f| f.rows < SMALL_FILE_ROWS)
                        .cloned()
                        .collect();
                    if small.len() >= COMPACT_MIN_FILES {
                        out.push((t, day, small));
                    }
                }
            }
            out
        };
        let mut report = CompactReport::default();
        for (table, day, olds) in candidates {
            let name = {
                let mut m = lock(&self.maint);
                m.next_file_id += 1;
                file_name(m.next_file_id - 1)
            };
            let dir = day_dir(&self.tables_dir, table, day);
            let inputs: Vec<PathBuf> = olds.iter().map(|f| f.path.clone()).collect();
            let (schema, ts) = (schema_of(table), ts_index(table));
            let w = partition::merge_files(&inputs, &dir, &name, schema, ts)?;
            let entry = Arc::new(FileEntry::written(&self.tables_dir, table, day, name, &w));
            let expected: u64 = olds.iter().map(|f| f.rows).sum();
            if w.rows != expected {
                entry.retire();
                return Err(StoreError::CorruptState {
                    path: dir,
                    reason: format!(
                        "compaction read {} rows from files that list {expected}; nothing changed",
                        w.rows
                    ),
                });
            }
            let maint = lock(&self.maint);
            let mut view = write(&self.shared.view);
            let live = view
                .table(table)
                .files
                .get(&day)
                .is_some_and(|fs| olds.iter().all(|o| fs.iter().any(|f| Arc::ptr_eq(f, o))));
            if !live {
                // Retention removed the day meanwhile.
                entry.retire();
                continue;
            }
            let list = view.table_mut(table).files.entry(day).or_default();
            list.retain(|f| !olds.iter().any(|o| Arc::ptr_eq(f, o)));
            list.push(Arc::clone(&entry));
            let state = self.state_of(
                &maint,
                &view,
                maint.flushed_ranges.clone(),
                self.last_flush(),
            );
            if let Err(e) = state::save(&self.opts.dir, &state) {
                // Put the old files back; the merged one goes.
                let list = view.table_mut(table).files.entry(day).or_default();
                list.retain(|f| !Arc::ptr_eq(f, &entry));
                list.extend(olds.iter().cloned());
                entry.retire();
                return Err(e);
            }
            for o in &olds {
                o.retire();
            }
            report.partitions += 1;
            report.files_merged += olds.len();
            report.rows += w.rows;
        }
        Ok(report)
    }

    pub(super) fn apply_retention(&self, now: Timestamp) -> Result<usize, StoreError> {
        let days = self
            .retention_days
            .load(std::sync::atomic::Ordering::Relaxed);
        if days == 0 {
            return Ok(0);
        }
        let cutoff = day_of(now.nanos()) - days as i64;
        let maint = lock(&self.maint);
        let mut view = write(&self.shared.view);
        let mut removed: Vec<(Table, i64, Vec<Arc<FileEntry>>)> = Vec::new();
        for &t in Table::ALL {
            let files = &mut view.table_mut(t).files;
            let keep = files.split_off(&cutoff);
            let old = std::mem::replace(files, keep);
            removed.extend(old.into_iter().map(|(day, list)| (t, day, list)));
        }
        if removed.is_empty() {
            return Ok(0);
        }
        let state = self.state_of(
            &maint,
            &view,
            maint.flushed_ranges.clone(),
            self.last_flush(),
        );
        if let Err(e) = state::save(&self.opts.dir, &state) {
            for (t, day, list) in removed {
                view.table_mut(t).files.insert(day, list);
            }
            return Err(e);
        }
        drop(view);
        let n = removed.len();
        for (t, day, list) in removed {
            for f in &list {
                f.retire();
            }
            drop(list);
            // Succeeds once no running query holds a file of the day.
            let _ = fs::remove_dir(day_dir(&self.tables_dir, t, day));
        }
        tracing::info!(partitions = n, "retention removed old day partitions");
        Ok(n)
    }

    pub(super) fn metrics(&self) -> StoreMetrics {
        let wal_bytes = {
            let core = lock(&self.core);
            core.old_segments.iter().map(|s| s.2).sum::<u64>()
                + core.segment.as_ref().map_or(0, |s| s.len)
        };
        let now = Timestamp::now().nanos();
        let view = read(&self.shared.view);
        let tables: Vec<TableMetrics> = Table::ALL
            .iter()
            .map(|&t| {
                let tv = view.table(t);
                let files = tv.files.values().flatten();
                TableMetrics {
                    table: t,
                    bytes: files.clone().map(|f| f.bytes).sum(),
                    files: files.clone().count(),
                    parquet_rows: files.map(|f| f.rows).sum(),
                    hot_rows: tv.hot.rows,
                }
            })
            .collect();
        let oldest = view
            .tables
            .iter()
            .filter_map(|t| t.hot.oldest_arrival())
            .min();
        StoreMetrics {
            table_bytes: tables.iter().map(|t| (t.table.name(), t.bytes)).collect(),
            hot_rows: tables.iter().map(|t| t.hot_rows).sum(),
            tables,
            wal_bytes,
            rows_stored: self.rows_stored.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            ingest_lag: oldest.map_or(Duration::ZERO, |a| {
                Duration::from_nanos(now.saturating_sub(a.nanos()).max(0) as u64)
            }),
            last_flush: self.last_flush(),
        }
    }
}
