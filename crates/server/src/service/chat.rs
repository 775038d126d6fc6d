//! Everyday chat beyond sending: editing and recalling a message, and
//! reactions. Who may do what is decided here; the store re-checks
//! membership and the message's state inside its write.
use std::sync::Arc;

use kaifang_store::{
    Chat, ConversationKind, EventBody, Message, MessageEdit, ReactionChange, Role,
};
use unicode_properties::{UnicodeEmoji, emoji};

use crate::config::ChatSettings;
use crate::hub::Membership;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::messaging::Messaging;

/// The chat service.
pub struct ChatService {
    store: Arc<dyn Chat>,
    messaging: Arc<Messaging>,
    settings: ChatSettings,
}

/// `true` when `text` is exactly one emoji: a single emoji character
/// (with an optional presentation selector and skin tone), a flag (two
/// regional indicators, or a tag sequence), a keycap, or such emoji joined
/// by zero-width joiners (👩‍💻). Letters, digits on their own, two emoji or
/// an emoji with text are not.
pub fn is_one_emoji(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    match chars.as_slice() {
        [] => false,
        [a, b] if emoji::is_regional_indicator(*a) && emoji::is_regional_indicator(*b) => true,
        // Keycaps: 1️⃣, #️⃣.
        [k, '\u{FE0F}', '\u{20E3}'] | [k, '\u{20E3}'] => {
            k.is_ascii_digit() || *k == '#' || *k == '*'
        }
        _ => zwj_sequence(&chars),
    }
}

fn zwj_sequence(chars: &[char]) -> bool {
    chars
        .split(|c| emoji::is_zwj(*c))
        .enumerate()
        .all(|(i, part)| element(part, i == 0))
}

/// One element of a ZWJ sequence: an emoji character, then an optional
/// presentation selector, skin tone or tag sequence (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
/// The sequence's first element must stand alone; later ones may be
/// components such as hair styles (👩‍🦰), never a bare skin tone.
fn element(chars: &[char], leading: bool) -> bool {
    let Some((first, rest)) = chars.split_first() else {
        return false;
    };
    // Digits, `#` and `*` are Emoji=Yes but are text unless in a keycap.
    let component = first.is_emoji_component() && (leading || is_modifier(*first));
    if first.is_ascii() || !first.is_emoji_char() || component {
        return false;
    }
    match rest {
        [] => true,
        ['\u{FE0F}'] => true,
        [m] => is_modifier(*m),
        tags => {
            tags.last() == Some(&'\u{E007F}') && tags.iter().all(|c| emoji::is_tag_character(*c))
        }
    }
}

/// A skin tone modifier (🏻..🏿).
fn is_modifier(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

impl ChatService {
    /// Builds the service.
    pub fn new(store: Arc<dyn Chat>, messaging: Arc<Messaging>, settings: ChatSettings) -> Self {
        Self {
            store,
            messaging,
            settings,
        }
    }

    /// The caller's membership and the message at `seq`; 404 for a
    /// non-member and for a seq with no message.
    async fn target(
        &self,
        caller: &Caller,
        conversation_id: i64,
        seq: i64,
    ) -> Result<(Membership, Message)> {
        let membership = self.messaging.membership(caller, conversation_id).await?;
        let message = self
            .store
            .message_at(conversation_id, seq)
            .await?
            .ok_or_else(|| Error::not_found("message"))?;
        Ok((membership, message))
    }

    /// Gives a message of the caller's a new text, its links decided again
    /// by the policy in force (a blocked link refuses the edit, as it
    /// would a send). Someone else's message is 404; past
    /// `chat.edit_window_ms`, or once recalled or removed, 409.
    pub async fn edit(
        &self,
        caller: &Caller,
        conversation_id: i64,
        seq: i64,
        body: String,
    ) -> Result<Message> {
        self.messaging.check_text(&body)?;
        let (membership, message) = self.target(caller, conversation_id, seq).await?;
        if message.sender_id != caller.user_id {
            return Err(Error::not_found("message"));
        }
        let now = crate::now_ms();
        let window = i64::try_from(self.settings.edit_window_ms).unwrap_or(i64::MAX);
        if window > 0 && now.saturating_sub(message.created_at) > window {
            return Err(Error::conflict(format!(
                "a message can be edited for {} s after it is sent",
                window / 1000
            )));
        }
        let decided = self.messaging.decide_links(&body, &membership).await?;
        // Mentions follow the text, as its links do.
        let mentions = self
            .messaging
            .mentions(conversation_id, &membership, &body)
            .await?;
        let event = self
            .store
            .edit_message(MessageEdit {
                message_id: message.id,
                editor: caller.user_id,
                body,
                links: decided.links,
                shares: decided.shares,
                mentions,
                at: now,
            })
            .await?;
        let EventBody::Edit(edited) = event.body else {
            return Err(Error::internal(
                "the store answered an edit with another event",
            ));
        };
        // Hidden previews stay hidden through edits: the sender chose so
        // for this message, whatever its text becomes.
        if edited.previews_hidden_at.is_none() {
            self.messaging.fetch_previews(edited.id, decided.wanted);
        }
        Ok(edited)
    }

    /// Hides the previews of one of the caller's messages, for every
    /// member and for good (as Slack lets a sender remove an unfurl).
    /// Someone else's message is 404, as for an edit; a recalled or
    /// removed one 409. Hiding them again changes nothing.
    pub async fn hide_previews(
        &self,
        caller: &Caller,
        conversation_id: i64,
        seq: i64,
    ) -> Result<()> {
        let (_, message) = self.target(caller, conversation_id, seq).await?;
        if message.sender_id != caller.user_id {
            return Err(Error::not_found("message"));
        }
        self.store
            .hide_previews(message.id, caller.user_id, crate::now_ms())
            .await?;
        Ok(())
    }

    /// Recalls a message: its sender within `chat.recall_window_ms` (409
    /// after), or a group's admin or owner at any time. Anyone else gets
    /// 404, as if the message were not there for them to touch.
    /// Returns the message's id, for its attachments to be released.
    pub async fn recall(&self, caller: &Caller, conversation_id: i64, seq: i64) -> Result<i64> {
        let (membership, message) = self.target(caller, conversation_id, seq).await?;
        let moderator =
            membership.kind == ConversationKind::Group && membership.role >= Role::Admin;
        let own = message.sender_id == caller.user_id;
        if !own && !moderator {
            return Err(Error::not_found("message"));
        }
        let now = crate::now_ms();
        let window = i64::try_from(self.settings.recall_window_ms).unwrap_or(i64::MAX);
        if !moderator && now.saturating_sub(message.created_at) > window {
            return Err(Error::conflict(format!(
                "a message can be recalled for {} s after it is sent",
                window / 1000
            )));
        }
        self.store
            .recall_message(message.id, caller.user_id, now)
            .await?;
        Ok(message.id)
    }

    /// Adds (`on`) or takes back the caller's reaction; anything but one
    /// emoji is 400. Reacting twice, or taking back a reaction that is not
    /// there, changes nothing and succeeds.
    pub async fn react(
        &self,
        caller: &Caller,
        conversation_id: i64,
        seq: i64,
        emoji: String,
        on: bool,
    ) -> Result<()> {
        let (_, message) = self.target(caller, conversation_id, seq).await?;
        if !is_one_emoji(&emoji) {
            return Err(Error::invalid("a reaction is exactly one emoji"));
        }
        self.store
            .react(ReactionChange {
                message_id: message.id,
                user: caller.user_id,
                emoji,
                on,
                at: crate::now_ms(),
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_one_emoji;

    #[test]
    fn one_emoji_and_nothing_else() {
        for good in [
            "👍",
            "❤️",
            "❤",
            "👍🏽",
            "🇨🇳",
            "👩‍💻",
            "👨‍👩‍👧",
            "1️⃣",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "😂",
            "👩‍🦰",
        ] {
            assert!(is_one_emoji(good), "{good:?} should be one emoji");
        }
        for bad in [
            "",
            "a",
            "1",
            "#",
            "ok",
            "👍👍",
            "👍 ",
            " 👍",
            "👍a",
            "🇨",
            "\u{200D}",
            "👍\u{200D}",
            "🏽",
            "™x",
        ] {
            assert!(!is_one_emoji(bad), "{bad:?} should be refused");
        }
    }
}
