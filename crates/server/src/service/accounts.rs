//! Accounts and sessions: sign-up, sign-in, token checks, sign-out.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use kaifang_store::{AdminGrant, Administration, InvitedSignUp, Store, User, UserId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{AuthSettings, Registration};
use crate::ratelimit::{Backoff, Buckets, Window};
use crate::service::error::{Error, Result};
use crate::service::passwords::Passwords;

/// A verified caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// Who is calling.
    pub user_id: UserId,
    /// The SHA-256 of the token used, to revoke it on sign-out.
    pub token_hash: [u8; 32],
}

impl Caller {
    /// The caller's id if they are an operator administrator. Anyone else
    /// gets 404: non-admins learn nothing, not even that the endpoint exists.
    pub async fn admin(&self, users: &dyn Store) -> Result<UserId> {
        match users.user_by_id(self.user_id).await? {
            Some(u) if u.is_admin => Ok(u.id),
            _ => Err(Error::not_found("resource")),
        }
    }
}

/// The accounts service.
pub struct Accounts {
    store: Arc<dyn Store>,
    /// Invite codes, suspension and reset codes.
    administration: Arc<dyn Administration>,
    settings: AuthSettings,
    tokens: Mutex<HashMap<[u8; 32], (UserId, Instant)>>,
    /// How long a cached token is trusted (`auth.token_cache_seconds`, or
    /// less in a cluster: `bus.revocation_ms`).
    token_ttl: Duration,
    passwords: Passwords,
    /// Failed sign-ins per (handle, address): the owner elsewhere is free.
    by_handle: Backoff,
    /// Failed sign-ins per address, any handle (password spraying).
    by_address: Backoff,
    signups: Window,
    /// Password-reset redemptions per address, right or wrong.
    resets: Window,
    requests: Buckets,
}

/// A new secret for a person to hold (a token or a code): 32 random bytes,
/// URL-safe, after a prefix that says what it is. Stored only as its
/// [`token_digest`].
pub fn new_secret(prefix: &str) -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

pub(crate) fn validate_handle(handle: &str) -> Result<()> {
    let ok = (3..=32).contains(&handle.len())
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "a handle has 3 to 32 characters among a-z, 0-9 and _",
        ))
    }
}

/// A reserved sign-in attempt; released without a verdict if dropped
/// unsettled (an error, or the client went away mid-request).
struct Reservation<'a> {
    limiter: &'a Backoff,
    key: String,
    settled: bool,
}

impl<'a> Reservation<'a> {
    fn take(limiter: &'a Backoff, key: String) -> Result<Self> {
        limiter.reserve(&key).map_err(|wait| {
            Error::rate_limited("too many failed sign-ins; wait and try again", wait)
        })?;
        Ok(Self {
            limiter,
            key,
            settled: false,
        })
    }

    fn fail(mut self) {
        self.limiter.fail(&self.key);
        self.settled = true;
    }

    fn succeed(mut self, forget: bool) {
        self.limiter.release(&self.key, forget);
        self.settled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.limiter.release(&self.key, false);
        }
    }
}

/// The address a sign-in counts against: IPv6 by /64, since one
/// subscriber commonly holds a whole /64.
fn address_key(from: IpAddr) -> String {
    match from {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
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
        administration: Arc<dyn Administration>,
        settings: AuthSettings,
        requests: (u32, u32),
        rate_limit_keys: usize,
    ) -> Result<Self, crate::startup::StartError> {
        let passwords = Passwords::new(&settings).map_err(crate::startup::StartError::Argon2)?;
        let base = Duration::from_millis(settings.login_backoff_ms.max(1));
        Ok(Self {
            store,
            administration,
            passwords,
            by_handle: Backoff::new(
                settings.login_free_failures_per_handle,
                base,
                Duration::from_secs(settings.login_backoff_max_seconds_per_handle),
                rate_limit_keys,
            ),
            by_address: Backoff::new(
                settings.login_free_failures_per_address,
                base,
                Duration::from_secs(settings.login_backoff_max_seconds_per_address),
                rate_limit_keys,
            ),
            signups: Window::new(
                settings.signups_per_address_per_hour,
                Duration::from_secs(3600),
                rate_limit_keys,
            ),
            resets: Window::new(
                settings.password_resets_per_address_per_hour,
                Duration::from_secs(3600),
                rate_limit_keys,
            ),
            requests: Buckets::new(requests.0, requests.1, rate_limit_keys),
            token_ttl: Duration::from_secs(settings.token_cache_seconds),
            settings,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Creates an account, as `auth.registration` allows (`invite`: the
    /// code an administrator gave). Handles named in the settings are
    /// operator administrators, and so is the very first account when
    /// `auth.first_signup_becomes_admin` says so.
    pub async fn sign_up(
        &self,
        handle: &str,
        password: &str,
        display_name: Option<&str>,
        invite: Option<&str>,
        max_display_name_chars: usize,
        from: IpAddr,
    ) -> Result<User> {
        // Decided first: a closed server hashes nothing for anyone.
        let invite = match self.settings.registration {
            Registration::Open => None,
            Registration::Closed => return Err(Error::Forbidden("sign-ups are closed".into())),
            Registration::Invite => Some(
                invite
                    .filter(|code| !code.is_empty())
                    .ok_or_else(|| Error::Forbidden("sign-ups need an invite code".into()))?,
            ),
        };
        validate_handle(handle)?;
        validate_password(password, self.settings.min_password_chars)?;
        let display_name =
            validate_display_name(display_name.unwrap_or(handle), max_display_name_chars)?;
        let address_key = format!("signup:{from}");
        self.signups.check(&address_key).map_err(|wait| {
            Error::rate_limited("too many accounts created from this address", wait)
        })?;
        let hash = self.passwords.hash(password).await?;
        let admin = if self.settings.admins.iter().any(|a| a == handle) {
            AdminGrant::Yes
        } else if self.settings.first_signup_becomes_admin {
            AdminGrant::IfFirst
        } else {
            AdminGrant::No
        };
        let user = match invite {
            None => {
                self.store
                    .create_user(handle, display_name, &hash, admin)
                    .await?
            }
            // The code is checked and its use counted in the account's own
            // transaction: a used-up code cannot create one more.
            Some(code) => {
                self.administration
                    .sign_up_with_invite(InvitedSignUp {
                        code_hash: token_digest(code),
                        now: crate::now_ms(),
                        handle: handle.to_owned(),
                        display_name: display_name.to_owned(),
                        password_hash: hash,
                        admin,
                    })
                    .await?
            }
        };
        self.signups.record(&address_key);
        Ok(user)
    }

    /// Creates an operator administrator directly, for `kaifang admin
    /// create`: no registration mode or sign-up limit applies, since only
    /// someone who can open the database gets here.
    pub async fn create_administrator(
        &self,
        handle: &str,
        password: &str,
        display_name: Option<&str>,
        max_display_name_chars: usize,
    ) -> Result<User> {
        validate_handle(handle)?;
        validate_password(password, self.settings.min_password_chars)?;
        let display_name =
            validate_display_name(display_name.unwrap_or(handle), max_display_name_chars)?;
        let hash = self.passwords.hash(password).await?;
        Ok(self
            .store
            .create_user(handle, display_name, &hash, AdminGrant::Yes)
            .await?)
    }

    /// Checks a password and opens a session; returns the token.
    pub async fn sign_in(
        &self,
        handle: &str,
        password: &str,
        from: IpAddr,
    ) -> Result<(String, UserId)> {
        // No account has such a handle, and none can: refuse before any
        // work, so the limiter's keys stay short.
        if validate_handle(handle).is_err() {
            return Err(Error::Unauthenticated("wrong handle or password"));
        }
        let address = address_key(from);
        // Reserved before the hash is checked, so that simultaneous guesses
        // cannot run more checks than the failures so far allow.
        let by_handle = Reservation::take(&self.by_handle, format!("{handle}@{address}"))?;
        let by_address = Reservation::take(&self.by_address, address)?;
        let account = self.store.user_auth(handle).await?;
        let hash = account.as_ref().map(|a| a.password_hash.as_str());
        let verified = self.passwords.verify(password, hash).await?;
        let Some(account) = account.filter(|_| verified) else {
            by_handle.fail();
            by_address.fail();
            return Err(Error::Unauthenticated("wrong handle or password"));
        };
        // The right password clears this address's record for the handle;
        // the address's own count stays (others behind it may be guessing).
        by_handle.succeed(true);
        by_address.succeed(false);
        // Told only to whoever knows the password: guessers learn nothing.
        let suspended = self.administration.account(account.user.id).await?;
        if suspended.is_some_and(|a| a.suspended_at.is_some()) {
            return Err(Error::Forbidden(
                "this account is suspended; ask the server's operator".into(),
            ));
        }
        let token = new_secret("kf_");
        self.store
            .create_session(account.user.id, token_digest(&token))
            .await?;
        Ok((token, account.user.id))
    }

    /// The caller behind a bearer token, or 401; 429 when that user is
    /// over the request rate.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let caller = self.verify(token).await?;
        self.requests
            .take(&caller.user_id.to_string())
            .map_err(|wait| Error::rate_limited("too many requests", wait))?;
        Ok(caller)
    }

    async fn verify(&self, token: &str) -> Result<Caller> {
        self.session(token_digest(token)).await
    }

    /// The caller behind a session token's hash, or 401 once signed out.
    pub async fn session(&self, token_hash: [u8; 32]) -> Result<Caller> {
        let ttl = self.token_ttl;
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
                Error::Unauthenticated("the token is invalid or has been revoked")
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

    /// Revokes the caller's token. The cache forgets it before and after
    /// the revocation: a check that read the database just before the
    /// revocation committed cannot leave it cached.
    pub async fn sign_out(&self, caller: &Caller) -> Result<()> {
        self.forget_token(&caller.token_hash);
        self.store.revoke_session(caller.token_hash).await?;
        self.forget_token(&caller.token_hash);
        Ok(())
    }

    /// Keeps verified tokens in the cache at most `bound` (a cluster: a
    /// sign-out on another node must take effect within it even when the
    /// bus does not bring it).
    pub fn bound_token_cache(mut self, bound: Duration) -> Self {
        self.token_ttl = self.token_ttl.min(bound);
        self
    }

    /// Forgets a cached token (signed out here or on another node).
    pub fn forget_token(&self, token_hash: &[u8; 32]) {
        if let Ok(mut cache) = self.tokens.lock() {
            cache.remove(token_hash);
        }
    }

    /// Forgets every cached token of `user` (its sessions were revoked in
    /// the database: suspension, password reset), so that none is trusted
    /// for the rest of `auth.token_cache_seconds`.
    pub fn forget_user(&self, user: UserId) {
        if let Ok(mut cache) = self.tokens.lock() {
            cache.retain(|_, (id, _)| *id != user);
        }
    }

    /// Hashes a new password (checked against the settings), for a reset.
    pub async fn hash_new_password(&self, password: &str) -> Result<String> {
        validate_password(password, self.settings.min_password_chars)?;
        self.passwords.hash(password).await
    }

    /// Redeems a one-time reset code an administrator made: the account
    /// gets `password` and every one of its sessions ends. Returns the
    /// account and the ended sessions' digests (their streams are the
    /// caller's to close). Attempts per address are limited, right or wrong.
    pub async fn redeem_password_reset(
        &self,
        code: &str,
        password: &str,
        from: IpAddr,
    ) -> Result<(User, Vec<[u8; 32]>)> {
        let key = format!("reset:{}", address_key(from));
        self.resets.check(&key).map_err(|wait| {
            Error::rate_limited("too many password-reset attempts from this address", wait)
        })?;
        self.resets.record(&key);
        let hash = self.hash_new_password(password).await?;
        let (user, sessions) = self
            .administration
            .redeem_password_reset(token_digest(code), crate::now_ms(), &hash)
            .await?;
        self.forget_user(user.id);
        Ok((user, sessions))
    }

    /// The caller's account.
    pub async fn me(&self, caller: &Caller) -> Result<User> {
        self.store
            .user_by_id(caller.user_id)
            .await?
            .ok_or_else(|| Error::Unauthenticated("the account no longer exists"))
    }

    /// Looks a user up by handle (404 when unknown).
    pub async fn by_handle(&self, handle: &str) -> Result<User> {
        self.store
            .user_by_handle(handle)
            .await?
            .ok_or_else(|| Error::not_found("user"))
    }
}

pub(crate) fn validate_password(password: &str, min_chars: usize) -> Result<()> {
    if password.chars().count() < min_chars || password.len() > 1024 {
        return Err(Error::invalid(format!(
            "a password has {min_chars} to 1024 characters"
        )));
    }
    Ok(())
}

pub(crate) fn validate_display_name(name: &str, max_chars: usize) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > max_chars || name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "a display name has 1 to {max_chars} characters and no control characters"
        )));
    }
    Ok(name)
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

    #[test]
    fn addresses_count_by_host_or_ipv6_slash_64() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), "192.0.2.7");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_ne!(address_key(a), address_key(c));
    }
}
