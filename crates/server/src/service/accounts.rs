//! Accounts and sessions: sign-up, sign-in, token checks, sign-out.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use kaifang_store::{Store, User, UserId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::AuthSettings;
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{Buckets, Window};

/// A verified caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// Who is calling.
    pub user_id: UserId,
    /// The SHA-256 of the token used, to revoke it on sign-out.
    pub token_hash: [u8; 32],
}

/// The accounts service.
pub struct Accounts {
    store: Arc<dyn Store>,
    settings: AuthSettings,
    argon2: Argon2<'static>,
    tokens: Mutex<HashMap<[u8; 32], (UserId, Instant)>>,
    failures_by_handle: Window,
    failures_by_address: Window,
    signups: Window,
    requests: Buckets,
    /// A valid hash to verify against when the handle does not exist, so
    /// that timing does not reveal which handles are taken.
    decoy_hash: String,
}

fn validate_handle(handle: &str) -> ApiResult<()> {
    let ok = (3..=32).contains(&handle.len())
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a handle has 3 to 32 characters among a-z, 0-9 and _",
        ))
    }
}

/// Hashes a bearer token for storage and lookup.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Accounts {
    /// Builds the service; fails only on impossible argon2 parameters.
    /// `requests` is the per-user request rate: (per second, burst);
    /// `rate_limit_keys` bounds each limiter's memory (see [`Buckets::new`]).
    pub fn new(
        store: Arc<dyn Store>,
        settings: AuthSettings,
        requests: (u32, u32),
        rate_limit_keys: usize,
    ) -> Result<Self, crate::startup::StartError> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            1,
            None,
        )
        .map_err(|e| crate::startup::StartError::Argon2(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let decoy_hash = argon2
            .hash_password(b"decoy password", &salt)
            .map_err(|e| crate::startup::StartError::Argon2(e.to_string()))?
            .to_string();
        let window = Duration::from_secs(settings.login_window_seconds);
        Ok(Self {
            store,
            failures_by_handle: Window::new(
                settings.login_failures_per_handle,
                window,
                rate_limit_keys,
            ),
            failures_by_address: Window::new(
                settings.login_failures_per_address,
                window,
                rate_limit_keys,
            ),
            signups: Window::new(
                settings.signups_per_address_per_hour,
                Duration::from_secs(3600),
                rate_limit_keys,
            ),
            requests: Buckets::new(requests.0, requests.1, rate_limit_keys),
            settings,
            argon2,
            tokens: Mutex::new(HashMap::new()),
            decoy_hash,
        })
    }

    async fn hash_password(&self, password: &str) -> ApiResult<String> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    async fn verify_password(&self, password: &str, hash: &str) -> ApiResult<bool> {
        let argon2 = self.argon2.clone();
        let (password, hash) = (password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| argon2.verify_password(password.as_bytes(), &h).is_ok())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    /// Creates an account. The first account, and handles named in the
    /// settings, are operator administrators.
    pub async fn sign_up(
        &self,
        handle: &str,
        password: &str,
        display_name: Option<&str>,
        max_display_name_chars: usize,
        from: IpAddr,
    ) -> ApiResult<User> {
        validate_handle(handle)?;
        if password.chars().count() < self.settings.min_password_chars || password.len() > 1024 {
            return Err(ApiError::bad_request(format!(
                "a password has {} to 1024 characters",
                self.settings.min_password_chars
            )));
        }
        let display_name = display_name.unwrap_or(handle).trim();
        if display_name.is_empty()
            || display_name.chars().count() > max_display_name_chars
            || display_name.chars().any(char::is_control)
        {
            return Err(ApiError::bad_request(format!(
                "a display name has 1 to {max_display_name_chars} characters and no control characters"
            )));
        }
        let address_key = format!("signup:{from}");
        self.signups.check(&address_key).map_err(|wait| {
            ApiError::too_many("too many accounts created from this address", wait)
        })?;
        let hash = self.hash_password(password).await?;
        let is_admin =
            self.store.user_count().await? == 0 || self.settings.admins.iter().any(|a| a == handle);
        let user = self
            .store
            .create_user(handle, display_name, &hash, is_admin)
            .await?;
        self.signups.record(&address_key);
        Ok(user)
    }

    /// Checks a password and opens a session; returns the token.
    pub async fn sign_in(
        &self,
        handle: &str,
        password: &str,
        from: IpAddr,
    ) -> ApiResult<(String, UserId)> {
        let handle_key = format!("login-handle:{handle}");
        let address_key = format!("login-address:{from}");
        for (window, key) in [
            (&self.failures_by_handle, &handle_key),
            (&self.failures_by_address, &address_key),
        ] {
            window.check(key).map_err(|wait| {
                ApiError::too_many("too many failed sign-ins; wait and try again", wait)
            })?;
        }
        let account = self.store.user_auth(handle).await?;
        let hash = account
            .as_ref()
            .map_or(self.decoy_hash.as_str(), |a| a.password_hash.as_str());
        let verified = self.verify_password(password, hash).await?;
        let Some(account) = account.filter(|_| verified) else {
            self.failures_by_handle.record(&handle_key);
            self.failures_by_address.record(&address_key);
            return Err(ApiError::unauthorized("wrong handle or password"));
        };
        self.failures_by_handle.clear(&handle_key);
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = format!(
            "kf_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        self.store
            .create_session(account.user.id, token_digest(&token))
            .await?;
        Ok((token, account.user.id))
    }

    /// The caller behind a bearer token, or 401; 429 when that user is
    /// over the request rate.
    pub async fn authenticate(&self, token: &str) -> ApiResult<Caller> {
        let caller = self.verify(token).await?;
        self.requests
            .take(&caller.user_id.to_string())
            .map_err(|wait| ApiError::too_many("too many requests", wait))?;
        Ok(caller)
    }

    async fn verify(&self, token: &str) -> ApiResult<Caller> {
        let token_hash = token_digest(token);
        let ttl = Duration::from_secs(self.settings.token_cache_seconds);
        if let Ok(cache) = self.tokens.lock()
            && let Some((user_id, at)) = cache.get(&token_hash)
            && at.elapsed() < ttl
        {
            return Ok(Caller {
                user_id: *user_id,
                token_hash,
            });
        }
        let user_id =
            self.store.session_user(token_hash).await?.ok_or_else(|| {
                ApiError::unauthorized("the token is invalid or has been revoked")
            })?;
        if let Ok(mut cache) = self.tokens.lock() {
            if cache.len() >= self.settings.token_cache_entries {
                cache.clear();
            }
            cache.insert(token_hash, (user_id, Instant::now()));
        }
        Ok(Caller {
            user_id,
            token_hash,
        })
    }

    /// Revokes the caller's token.
    pub async fn sign_out(&self, caller: &Caller) -> ApiResult<()> {
        if let Ok(mut cache) = self.tokens.lock() {
            cache.remove(&caller.token_hash);
        }
        self.store.revoke_session(caller.token_hash).await?;
        Ok(())
    }

    /// The caller's account.
    pub async fn me(&self, caller: &Caller) -> ApiResult<User> {
        self.store
            .user_by_id(caller.user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))
    }

    /// Looks a user up by handle (404 when unknown).
    pub async fn by_handle(&self, handle: &str) -> ApiResult<User> {
        self.store
            .user_by_handle(handle)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked() {
        assert!(validate_handle("alice_01").is_ok());
        for bad in ["al", "Alice", "a-b", "ali ce", "名字名字", &"a".repeat(33)] {
            assert!(validate_handle(bad).is_err(), "{bad}");
        }
    }
}
