//! The services: the logic behind the API, one per domain. Handlers parse
//! and answer; services decide.
pub mod accounts;
pub mod admins;
pub mod chat;
pub mod conversations;
pub mod error;
pub mod events;
pub mod governance;
pub mod links;
pub mod messaging;
mod passwords;
pub mod previews;
