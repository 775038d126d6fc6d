//! The services: the logic behind the API, one per domain. Handlers parse
//! and answer; services decide.
pub mod accounts;
pub mod admins;
pub mod attachments;
pub mod avatars;
pub mod chat;
pub mod chat_state;
pub mod conversations;
pub mod error;
pub mod events;
pub mod governance;
pub mod links;
pub mod media;
pub mod mentions;
pub mod messaging;
pub mod moderation;
mod passwords;
pub mod payments;
pub mod people;
pub mod preview_rules;
pub mod previews;
pub mod search;
