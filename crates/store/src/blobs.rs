//! Content-addressed storage for attachment bytes. A blob is named by the
//! SHA-256 of its bytes ([`BlobId`]), so storing the same bytes twice keeps
//! one copy, and a name can never point at other bytes than it was made
//! from. [`FsBlobStore`] keeps one file per blob in a folder (the default,
//! beside the SQLite database); [`crate::PgBlobStore`] keeps them in
//! PostgreSQL, shared by every node of a cluster. Which blobs are still
//! needed is the attachment records' business ([`crate::Attachments`]), not
//! the blob store's.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::Error;

/// A blob's name: the lowercase hex SHA-256 of its bytes. Only made by
/// hashing or by parsing 64 hex digits, so it is always safe in a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    /// The name of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// Parses a stored name; `None` unless it is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(text.to_owned()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where attachment bytes are kept. Implementations name no backend type.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` (once: storing the same bytes again is a no-op) and
    /// returns their name. Durable when it returns.
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobId, Error>;
    /// The bytes of a blob, `None` when there is no such blob.
    async fn get(&self, id: &BlobId) -> Result<Option<Vec<u8>>, Error>;
    /// Whether a blob exists.
    async fn contains(&self, id: &BlobId) -> Result<bool, Error>;
    /// Deletes a blob; deleting a missing one is harmless.
    async fn delete(&self, id: &BlobId) -> Result<(), Error>;
}

/// Blobs as files in a folder: `<root>/ab/abcdef…` (the first two hex
/// digits as a subfolder keep folders small). A blob is written to
/// `<root>/tmp/` first, flushed to disk, then renamed into place, so a
/// crash leaves either the whole file or none under its name.
pub struct FsBlobStore {
    root: PathBuf,
}

/// Tells temporary files of one process apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FsBlobStore {
    /// A store in `root`, created if missing. Temporary files left there by
    /// a crash are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(Self { root })
    }

    /// Where a blob's file is (whether or not it exists).
    pub fn path_of(&self, id: &BlobId) -> PathBuf {
        self.root.join(&id.as_str()[..2]).join(id.as_str())
    }

    fn write(root: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir)?;
        let temp = root.join("tmp").join(format!(
            "{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&temp, path)?;
            // The rename is durable only once the folder is.
            std::fs::File::open(dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        Ok(written?)
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobId, Error> {
        let id = BlobId::of(&bytes);
        let (root, path) = (self.root.clone(), self.path_of(&id));
        tokio::task::spawn_blocking(move || Self::write(&root, &path, &bytes))
            .await
            .map_err(|e| Error::Backend(Box::new(e)))??;
        Ok(id)
    }

    async fn get(&self, id: &BlobId) -> Result<Option<Vec<u8>>, Error> {
        match tokio::fs::read(self.path_of(id)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn contains(&self, id: &BlobId) -> Result<bool, Error> {
        Ok(tokio::fs::try_exists(self.path_of(id)).await?)
    }

    async fn delete(&self, id: &BlobId) -> Result<(), Error> {
        match tokio::fs::remove_file(self.path_of(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
