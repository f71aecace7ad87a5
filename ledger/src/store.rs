//! The durable store: sled trees `log`, `keys` and `meta` (design.md §3.3).
//!
//! - `log`: seq (u64 big-endian) → entry bytes, exactly as hashed.
//! - `keys`: idempotency key → seq (u64 big-endian).
//! - `meta`: `format` (marker), `head` (seq ‖ hash of the last entry), `verified` (seq ‖ hash
//!   of the last entry a previous `open` verified: the next `open` starts there).
//!
//! One append (or one batch) is one sled transaction over the three trees followed by one
//! `flush`: when `append` returns, the entry is on disk, and a crash at any moment leaves either
//! all of a batch or none of it. A batch shares its flush (group commit).
//!
//! One writer: appending needs `&mut Store`, and sled's file lock keeps a second process out.
//! Readers take a [`Snapshot`]: entries are immutable once written, so a snapshot is simply the
//! log bounded by the head at the moment it was taken.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::{ENTRY_VERSION, Envelope, Error, Event, Hash32, Verifier};

const FORMAT_MARKER: &[u8] = b"albedo-ledger/v1";
const META_FORMAT: &[u8] = b"format";
const META_HEAD: &[u8] = b"head";
const META_VERIFIED: &[u8] = b"verified";
const META_MIRROR: &[u8] = b"mirror";

/// The last entry of a log (or of a verified prefix): its seq and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash32,
}

impl Head {
    fn to_bytes(self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..].copy_from_slice(&self.hash.0);
        out
    }

    fn from_meta(key: &[u8], bytes: &[u8]) -> Result<Head, Error> {
        if bytes.len() != 40 {
            return Err(Error::CorruptMeta {
                key: String::from_utf8_lossy(key).into_owned(),
                detail: format!("expected 40 bytes, found {}", bytes.len()),
            });
        }
        let seq = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let hash = Hash32(bytes[8..].try_into().expect("32 bytes"));
        Ok(Head { seq, hash })
    }
}

/// An event to append, with the envelope fields only the writer knows.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub time_ms: u64,
    pub block: Option<u64>,
    pub event: Event,
}

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The entry was written at this seq.
    New(u64),
    /// An entry with the same idempotency key already exists at this seq; nothing was written.
    Existing(u64),
}

impl Appended {
    pub fn seq(self) -> u64 {
        match self {
            Appended::New(seq) | Appended::Existing(seq) => seq,
        }
    }
}

/// One stored entry: its seq and its exact bytes.
#[derive(Clone, Debug)]
pub struct Entry {
    pub seq: u64,
    pub bytes: sled::IVec,
}

impl Entry {
    /// SHA-256 of the stored bytes.
    pub fn hash(&self) -> Hash32 {
        Hash32::of(&self.bytes)
    }

    /// Decodes the entry. This does not verify its links: use [`Verifier`] for that.
    pub fn decode(&self) -> Result<Envelope, Error> {
        Envelope::decode(self.seq, &self.bytes)
    }
}

/// The ledger on disk, opened for writing.
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    log: sled::Tree,
    keys: sled::Tree,
    meta: sled::Tree,
    head: Option<Head>,
}

impl Store {
    /// Creates a new, empty ledger at `path`. Refuses if a ledger is already there.
    pub fn create(path: impl AsRef<Path>) -> Result<Store, Error> {
        let path = path.as_ref().to_path_buf();
        let store = Store::open_trees(&path)?;
        if store.meta.get(META_FORMAT)?.is_some() || !store.log.is_empty() {
            return Err(Error::AlreadyExists(path));
        }
        store.meta.insert(META_FORMAT, FORMAT_MARKER)?;
        store.db.flush()?;
        Ok(store)
    }

    /// Opens an existing ledger and verifies it from the last verified point to the head:
    /// every entry must decode, carry its seq, link to its predecessor and be indexed under its
    /// idempotency key, and the recorded head must be the last entry. On any break it refuses,
    /// naming the seq. On success the verified point moves to the head.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Error> {
        let path = path.as_ref().to_path_buf();
        if !path.is_dir() {
            return Err(Error::NotFound(path));
        }
        let mut store = Store::open_trees(&path)?;
        match store.meta.get(META_FORMAT)? {
            None => return Err(Error::NotFound(path)),
            Some(m) if m.as_ref() != FORMAT_MARKER => {
                return Err(Error::WrongFormat { path, found: String::from_utf8_lossy(&m).into_owned() });
            }
            Some(_) => {}
        }
        let recorded = store.meta.get(META_HEAD)?.map(|b| Head::from_meta(META_HEAD, &b)).transpose()?;
        let anchor = store.meta.get(META_VERIFIED)?.map(|b| Head::from_meta(META_VERIFIED, &b)).transpose()?;
        let verified = verify_log(&store.log, anchor, Some(&store.keys))?;
        check_head(recorded, verified)?;
        store.head = verified;
        if let Some(head) = verified
            && anchor != verified
        {
            store.meta.insert(META_VERIFIED, &head.to_bytes()[..])?;
            store.db.flush()?;
        }
        Ok(store)
    }

    /// Opens the ledger at `path`, creating it if there is none.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Store, Error> {
        match Store::open(path.as_ref()) {
            Err(Error::NotFound(_)) => Store::create(path),
            other => other,
        }
    }

    fn open_trees(path: &Path) -> Result<Store, Error> {
        // No background flusher: every append flushes before it returns, and a flusher thread
        // holding the database would keep its file lock alive after the store is dropped.
        let db = open_locked(path)?;
        Ok(Store {
            path: path.to_path_buf(),
            log: db.open_tree("log")?,
            keys: db.open_tree("keys")?,
            meta: db.open_tree("meta")?,
            db,
            head: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last entry, or `None` for an empty ledger.
    pub fn head(&self) -> Option<Head> {
        self.head
    }

    /// The number of entries.
    pub fn len(&self) -> u64 {
        self.head.map_or(0, |h| h.seq + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The seq of the entry holding this idempotency key, if any.
    pub fn seq_of_key(&self, key: &crate::IdempotencyKey) -> Result<Option<u64>, Error> {
        Ok(self.keys.get(key.as_bytes())?.map(|v| seq_from_key(&v)))
    }

    /// Appends one event durably (see [`Store::append_batch`]).
    pub fn append(&mut self, draft: Draft) -> Result<Appended, Error> {
        Ok(self.append_batch(vec![draft])?.remove(0))
    }

    /// Appends events in order, all in one transaction and one flush (group commit). An event
    /// whose idempotency key is already in the ledger, or earlier in the same batch, is not
    /// written: its result is [`Appended::Existing`] with the seq that holds the key. Returns
    /// only once the batch is durable.
    pub fn append_batch(&mut self, drafts: Vec<Draft>) -> Result<Vec<Appended>, Error> {
        let mut results = Vec::with_capacity(drafts.len());
        let mut rows: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::with_capacity(drafts.len());
        let mut in_batch: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut next = self.head.map_or(0, |h| h.seq + 1);
        let mut prev = self.head.map_or(Hash32::ZERO, |h| h.hash);
        for draft in drafts {
            let key = draft.event.idempotency_key().as_bytes().to_vec();
            if let Some(seq) = in_batch.get(&key) {
                results.push(Appended::Existing(*seq));
                continue;
            }
            if let Some(v) = self.keys.get(&key)? {
                results.push(Appended::Existing(seq_from_key(&v)));
                continue;
            }
            let env = Envelope {
                v: ENTRY_VERSION,
                seq: next,
                prev,
                time_ms: draft.time_ms,
                block: draft.block,
                event: draft.event,
            };
            let bytes = env.encode()?;
            prev = Hash32::of(&bytes);
            in_batch.insert(key.clone(), next);
            results.push(Appended::New(next));
            rows.push((next, key, bytes));
            next += 1;
        }
        let Some(&(last_seq, _, _)) = rows.last() else {
            return Ok(results);
        };
        let new_head = Head { seq: last_seq, hash: prev };
        (&self.log, &self.keys, &self.meta)
            .transaction(|(log, keys, meta)| {
                for (seq, key, bytes) in &rows {
                    log.insert(&seq.to_be_bytes(), bytes.as_slice())?;
                    keys.insert(key.as_slice(), &seq.to_be_bytes())?;
                }
                meta.insert(META_HEAD, &new_head.to_bytes()[..])?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => Error::Storage(e),
                TransactionError::Abort(()) => unreachable!("the append transaction never aborts"),
            })?;
        self.db.flush()?;
        self.head = Some(new_head);
        Ok(results)
    }

    /// How many entries the public mirror holds (design.md §3.4): the size of the last
    /// checkpoint the mirror uploaded. 0 when nothing was mirrored yet.
    pub fn mirror_cursor(&self) -> Result<u64, Error> {
        match self.meta.get(META_MIRROR)? {
            None => Ok(0),
            Some(v) if v.len() == 8 => Ok(u64::from_be_bytes(v.as_ref().try_into().expect("8 bytes"))),
            Some(v) => {
                Err(Error::CorruptMeta { key: "mirror".into(), detail: format!("expected 8 bytes, found {}", v.len()) })
            }
        }
    }

    /// Records that the mirror now holds `size` entries, durably. Takes `&self`: the mirror runs
    /// beside the writer and never blocks appends. A cursor never moves back or past the head.
    pub fn set_mirror_cursor(&self, size: u64) -> Result<(), Error> {
        let current = self.mirror_cursor()?;
        if size < current || size > self.len() {
            return Err(Error::CorruptMeta {
                key: "mirror".into(),
                detail: format!("cannot move the mirror cursor from {current} to {size} (ledger holds {})", self.len()),
            });
        }
        self.meta.insert(META_MIRROR, &size.to_be_bytes()[..])?;
        self.db.flush()?;
        Ok(())
    }

    /// A read-only view of the log as it stands now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { log: self.log.clone(), head: self.head }
    }

    /// Verifies the whole log from entry 0, ignoring the verified point (the full audit that
    /// `open` shortens). Returns the head.
    pub fn verify_all(&self) -> Result<Option<Head>, Error> {
        let verified = verify_log(&self.log, None, Some(&self.keys))?;
        let recorded = self.meta.get(META_HEAD)?.map(|b| Head::from_meta(META_HEAD, &b)).transpose()?;
        check_head(recorded, verified)?;
        Ok(verified)
    }
}

/// A consistent read-only view: the log up to the head at the moment it was taken. Cheap to
/// clone and to send to another thread; appends made later are not visible through it.
#[derive(Clone)]
pub struct Snapshot {
    log: sled::Tree,
    head: Option<Head>,
}

impl Snapshot {
    pub fn head(&self) -> Option<Head> {
        self.head
    }

    pub fn len(&self) -> u64 {
        self.head.map_or(0, |h| h.seq + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The entry at `seq`, if the snapshot holds it.
    pub fn get(&self, seq: u64) -> Result<Option<Entry>, Error> {
        if seq >= self.len() {
            return Ok(None);
        }
        Ok(self.log.get(seq.to_be_bytes())?.map(|bytes| Entry { seq, bytes }))
    }

    /// Streams entries from `from` to the snapshot's head, one at a time (bounded memory).
    /// The entries are not verified: run them through a [`Verifier`] to check links.
    pub fn entries(&self, from: u64) -> impl Iterator<Item = Result<Entry, Error>> + use<> {
        let end = self.len();
        let range = if from < end {
            self.log.range(from.to_be_bytes()..end.to_be_bytes())
        } else {
            self.log.range(0u64.to_be_bytes()..0u64.to_be_bytes())
        };
        range.map(|item| {
            let (k, v) = item?;
            Ok(Entry { seq: seq_from_key(&k), bytes: v })
        })
    }
}

/// Opens the sled database, waiting briefly for its file lock. sled releases the lock of a
/// dropped database from its own background threads, a few milliseconds after the drop, so a
/// reopen in the same process can find it still held. A lock held for longer means another
/// writer: refuse, naming the path.
/// sled's page cache (its default is 1 GB). Reads stream through it, so a small cache costs no
/// measured speed (ledger bench: 8 MB and 64 MB verify at the same rate). What still grows with
/// the ledger is sled's own page table, ~85 bytes per entry at open (bench `sled-open`).
const CACHE_BYTES: u64 = 16 << 20;

fn open_locked(path: &Path) -> Result<sled::Db, Error> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(5);
    let start = std::time::Instant::now();
    loop {
        match sled::Config::new().path(path).flush_every_ms(None).cache_capacity(CACHE_BYTES).open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if start.elapsed() > WAIT {
                    return Err(Error::Locked(path.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

fn seq_from_key(bytes: &[u8]) -> u64 {
    let mut arr = [0u8; 8];
    let n = bytes.len().min(8);
    arr[8 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    u64::from_be_bytes(arr)
}

/// Verifies `log` from just after `anchor` (or from entry 0) to its last entry. The anchor
/// entry itself must still hash to the recorded value. With `keys`, each verified entry must
/// also be indexed under its idempotency key.
fn verify_log(log: &sled::Tree, anchor: Option<Head>, keys: Option<&sled::Tree>) -> Result<Option<Head>, Error> {
    let mut verifier = match anchor {
        None => Verifier::new(),
        Some(a) => {
            let stored = log.get(a.seq.to_be_bytes())?.ok_or(Error::HeadMismatch {
                seq: a.seq,
                detail: "the last verified entry is missing from the log".into(),
            })?;
            let hash = Hash32::of(&stored);
            if hash != a.hash {
                return Err(Error::HeadMismatch {
                    seq: a.seq,
                    detail: format!("entry changed since it was verified: it hashed to {}, now {hash}", a.hash),
                });
            }
            Verifier::resume(a)
        }
    };
    for item in log.range(verifier.next_seq().to_be_bytes()..) {
        let (k, v) = item?;
        let expected = verifier.next_seq();
        if k.len() != 8 {
            return Err(Error::Undecodable { seq: expected, reason: format!("log key of {} bytes", k.len()) });
        }
        let stored_seq = seq_from_key(&k);
        if stored_seq != expected {
            return Err(Error::Missing { seq: expected, next_stored: stored_seq });
        }
        let (env, _) = verifier.check(&v)?;
        if let Some(keys) = keys {
            let key = env.event.idempotency_key();
            match keys.get(key.as_bytes())? {
                Some(s) if seq_from_key(&s) == expected => {}
                Some(s) => {
                    return Err(Error::KeyIndex {
                        seq: expected,
                        detail: format!("its key {key:?} points at seq {}", seq_from_key(&s)),
                    });
                }
                None => {
                    return Err(Error::KeyIndex { seq: expected, detail: format!("its key {key:?} is not indexed") });
                }
            }
        }
    }
    Ok(verifier.head())
}

/// The recorded head must be exactly the verified last entry.
fn check_head(recorded: Option<Head>, verified: Option<Head>) -> Result<(), Error> {
    match (recorded, verified) {
        (None, None) => Ok(()),
        (Some(r), Some(v)) if r == v => Ok(()),
        (Some(r), Some(v)) if r.seq == v.seq => Err(Error::HeadMismatch {
            seq: r.seq,
            detail: format!("the recorded head hash {} differs from the entry's hash {}", r.hash, v.hash),
        }),
        (Some(r), Some(v)) if r.seq > v.seq => Err(Error::HeadMismatch {
            seq: v.seq + 1,
            detail: format!("missing: the recorded head is seq {} but the log ends at seq {}", r.seq, v.seq),
        }),
        (Some(r), Some(_)) => Err(Error::HeadMismatch {
            seq: r.seq + 1,
            detail: format!("the log holds entries past the recorded head (seq {})", r.seq),
        }),
        (None, Some(v)) => {
            Err(Error::HeadMismatch { seq: v.seq, detail: "the log holds entries but no head is recorded".into() })
        }
        (Some(r), None) => Err(Error::HeadMismatch {
            seq: 0,
            detail: format!("the recorded head is seq {} but the log is empty", r.seq),
        }),
    }
}
