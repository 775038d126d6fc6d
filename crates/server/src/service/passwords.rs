//! Password hashing with bounded memory. Each argon2 computation needs
//! `argon2_memory_kib` of working memory: at most `permits` run at once, at
//! most `queue` requests wait for one, the rest are answered 503. The
//! working memory comes from a pool of at most `permits` buffers, reused:
//! left to the allocator, freed 19 MiB blocks stay resident in per-thread
//! arenas, and peak memory grows with the number of blocking threads.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::config::AuthSettings;
use crate::service::error::{Error, Result};

type Pool = Arc<Mutex<Vec<Vec<Block>>>>;

/// Hashes and checks passwords, a bounded number at a time.
pub(crate) struct Passwords {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    memory: Pool,
    /// A valid hash to check when the handle does not exist, so that timing
    /// does not reveal which handles are taken.
    decoy: String,
}

/// One waiter counted in [`Passwords::waiting`] while it exists.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs argon2 with working memory from the pool (grown to fit if needed).
fn compute(
    argon2: &Argon2<'_>,
    pool: &Pool,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let need = argon2.params().block_count();
    let mut blocks = pool
        .lock()
        .ok()
        .and_then(|mut p| p.pop())
        .unwrap_or_default();
    if blocks.len() < need {
        blocks.resize(need, Block::new());
    }
    let result = argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..]);
    if let Ok(mut p) = pool.lock() {
        p.push(blocks);
    }
    result
}

fn hash_with(argon2: &Argon2<'_>, pool: &Pool, password: &[u8]) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; 32];
    compute(argon2, pool, password, salt_bytes, &mut out).map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2.params().try_into().map_err(|e| format!("{e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

fn verify_with(pool: &Pool, password: &[u8], hash: &str) -> Result<bool, String> {
    let phc = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    let params = Params::try_from(&phc).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::try_from(phc.algorithm).map_err(|e| e.to_string())?;
    let version = match phc.version {
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err("stored hash without salt or output".into());
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    compute(&argon2, pool, password, salt_bytes, &mut out).map_err(|e| e.to_string())?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(|e| e.to_string())? == expected)
}

impl Passwords {
    /// Fails only on impossible argon2 parameters.
    pub(crate) fn new(settings: &AuthSettings) -> Result<Self, String> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            1,
            None,
        )
        .map_err(|e| format!("argon2 settings: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let permits = match settings.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let memory = Pool::default();
        let decoy = hash_with(&argon2, &memory, b"decoy password")?;
        Ok(Self {
            argon2,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            queue: settings.hash_queue,
            memory,
            decoy,
        })
    }

    /// Runs `work` on the blocking pool once a hashing slot is free; 503
    /// when too many already wait. The slot moves into the blocking task,
    /// so a client that hangs up cannot free it while the hash still runs.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Argon2<'static>, &Pool) -> T + Send + 'static,
    ) -> Result<T> {
        let busy = || Error::busy("the server is busy checking passwords; retry", 1);
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let ahead = self.waiting.fetch_add(1, Ordering::AcqRel);
                let _waiter = Waiter(&self.waiting);
                if ahead >= self.queue {
                    return Err(busy());
                }
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| busy())?
            }
        };
        let (argon2, memory) = (self.argon2.clone(), self.memory.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&argon2, &memory)
        })
        .await
        .map_err(Error::internal)
    }

    /// A new PHC-format argon2id hash of `password`.
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move |argon2, pool| hash_with(argon2, pool, password.as_bytes()))
            .await?
            .map_err(Error::internal)
    }

    /// Whether `password` matches `hash`; with no hash (no such account),
    /// the decoy is checked and the answer is `false`.
    pub(crate) async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let exists = hash.is_some();
        let (password, hash) = (password.to_owned(), hash.unwrap_or(&self.decoy).to_owned());
        let matches = self
            .run(move |_, pool| verify_with(pool, password.as_bytes(), &hash))
            .await?
            .map_err(Error::internal)?;
        Ok(exists && matches)
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn cheap() -> Argon2<'static> {
        let params = Params::new(64, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes stored before the pool (made by `PasswordHasher`) still
    /// verify, and the pool's hashes verify with the standard verifier.
    #[test]
    fn pooled_hashing_agrees_with_the_argon2_crate() {
        let pool = Pool::default();
        let argon2 = cheap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let standard = argon2.hash_password(b"secret", &salt).unwrap().to_string();
        assert!(verify_with(&pool, b"secret", &standard).unwrap());
        assert!(!verify_with(&pool, b"other", &standard).unwrap());

        let pooled = hash_with(&argon2, &pool, b"secret").unwrap();
        let parsed = PasswordHash::new(&pooled).unwrap();
        assert!(argon2.verify_password(b"secret", &parsed).is_ok());
        assert!(argon2.verify_password(b"other", &parsed).is_err());
        // One buffer, reused.
        assert_eq!(pool.lock().unwrap().len(), 1);
    }
}
