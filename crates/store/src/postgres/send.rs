//! Sends: a batch of messages stored by one statement,
//! `kaifang_append_messages` (migration 0017), which checks each sender's
//! membership and a retried `client_txn_id`, takes the next seq, and logs
//! the shares and the event.
//!
//! Why one statement: on loopback a round trip to the database costs more
//! than the statements of a send, and a send used to be six of them, one
//! after another, while the write lock was held (docs/benchmarks.md, issue
//! 9). Refusals (a non-member, a retry) come back as outcomes rather than
//! errors, so one refused send neither aborts the transaction nor needs a
//! savepoint: the writer can put any number of sends in one statement, and,
//! when the batch holds only sends, let that statement be its own
//! transaction, committed in the same round trip (`writer.rs`).
use deadpool_postgres::GenericClient;

use super::now_ms;
use super::read::{self, query};
use super::write::Events;
use crate::{Error, Event, EventBody, LinkShare, Message, NewMessage};

/// What `kaifang_append_messages` says about each send.
const STORED: i32 = 0;
const RETRIED: i32 = 1;
const NOT_A_MEMBER: i32 = 2;

/// The statement that stores a batch of sends.
pub(super) const STATEMENT: &str = "SELECT outcome, new_id, new_seq, sender_handle, new_event \
     FROM kaifang_append_messages($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], \
     $5::TEXT[], $6::BIGINT, $7::TEXT[], $8::BIGINT[], $9::TEXT[])";

/// Stores `sends` in order and pushes each stored message's event to its
/// own `events[i]`. The outer error is the database's: the statement, or
/// binding attachments, failed, and the transaction must not commit. The
/// inner results are each send's own: its message (`true` when stored now,
/// `false` for the original of a retry) or its refusal.
pub(super) async fn append_messages<C: GenericClient>(
    c: &C,
    sends: Vec<NewMessage>,
    events: &mut [Events],
) -> Result<Vec<Result<(Message, bool), Error>>, Error> {
    let created_at = now_ms();
    let columns = Columns::of(sends)?;
    let rows = query(
        c,
        STATEMENT,
        &[
            &columns.conversations,
            &columns.senders,
            &columns.bodies,
            &columns.txns,
            &columns.links,
            &created_at,
            &columns.mentions,
            &columns.reply_tos,
            &columns.shares,
        ],
    )
    .await?;
    if rows.len() != columns.len() {
        return Err(read::corrupt("kaifang_append_messages"));
    }
    let mut columns = columns;
    let mut results = Vec::with_capacity(rows.len());
    let mut event_ids = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let outcome: i32 = row.try_get(0)?;
        let result = match outcome {
            STORED => {
                let (id, seq, event) = (row.try_get(1)?, row.try_get(2)?, row.try_get(4)?);
                event_ids.push(Some(event));
                let mut message = columns.message(i, id, seq, row.try_get(3)?, created_at);
                message.attachments = super::attachments::bind(
                    c,
                    id,
                    message.conversation_id,
                    message.sender_id,
                    &columns.attachments[i],
                )
                .await?;
                Ok((message, true))
            }
            RETRIED => {
                event_ids.push(None);
                // A read of what is there: its failure is this send's alone.
                match read::message(c, row.try_get(1)?).await {
                    Ok(Some(original)) => Ok((original, false)),
                    Ok(None) => Err(Error::NotFound("message")),
                    Err(e) => Err(e),
                }
            }
            NOT_A_MEMBER => {
                event_ids.push(None);
                Err(Error::NotFound("conversation"))
            }
            _ => return Err(read::corrupt("kaifang_append_messages")),
        };
        results.push(result);
    }
    let quoting: Vec<&mut Message> = results
        .iter_mut()
        .filter_map(|r| match r {
            Ok((m, true)) if m.reply_to.is_some() => Some(m),
            _ => None,
        })
        .collect();
    if !quoting.is_empty() {
        super::chat::decorate_all(c, quoting, false).await?;
    }
    for ((result, event), job_events) in results.iter().zip(event_ids).zip(events) {
        if let (Ok((message, true)), Some(id)) = (result, event) {
            job_events.push(Event {
                id,
                conversation_id: message.conversation_id,
                body: EventBody::Message(message.clone()),
            });
        }
    }
    Ok(results)
}

/// The sends as the statement's arrays, kept to build the messages after.
struct Columns {
    conversations: Vec<i64>,
    senders: Vec<i64>,
    bodies: Vec<String>,
    txns: Vec<Option<String>>,
    links: Vec<String>,
    mentions: Vec<Option<String>>,
    reply_tos: Vec<Option<i64>>,
    shares: Vec<Option<String>>,
    attachments: Vec<Vec<i64>>,
}

impl Columns {
    fn of(sends: Vec<NewMessage>) -> Result<Self, Error> {
        let n = sends.len();
        let mut c = Self {
            conversations: Vec::with_capacity(n),
            senders: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            txns: Vec::with_capacity(n),
            links: Vec::with_capacity(n),
            mentions: Vec::with_capacity(n),
            reply_tos: Vec::with_capacity(n),
            shares: Vec::with_capacity(n),
            attachments: Vec::with_capacity(n),
        };
        for s in sends {
            c.shares.push(shares_json(&s.shares)?);
            c.conversations.push(s.conversation_id);
            c.senders.push(s.sender_id);
            c.bodies.push(s.body);
            c.txns.push(s.client_txn_id);
            c.links.push(s.links);
            c.mentions.push(s.mentions);
            c.reply_tos.push(s.reply_to);
            c.attachments.push(s.attachments);
        }
        Ok(c)
    }

    fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Send `i` as stored, its texts moved out of the columns.
    fn message(&mut self, i: usize, id: i64, seq: i64, sender: String, created_at: i64) -> Message {
        Message {
            id,
            conversation_id: self.conversations[i],
            seq,
            sender_id: self.senders[i],
            sender,
            body: std::mem::take(&mut self.bodies[i]),
            created_at,
            client_txn_id: self.txns[i].take(),
            links: std::mem::take(&mut self.links[i]),
            previews: None,
            removed_at: None,
            mentions: self.mentions[i].take(),
            attachments: None,
            edited_at: None,
            recalled_at: None,
            recalled_by: None,
            reply_to: self.reply_tos[i],
            previews_hidden_at: None,
            reply: None,
            reactions: Vec::new(),
        }
    }
}

/// A send's shares as the JSON rows the statement logs, or none.
fn shares_json(shares: &[LinkShare]) -> Result<Option<String>, Error> {
    if shares.is_empty() {
        return Ok(None);
    }
    let rows = shares
        .iter()
        .map(|s| {
            Ok(serde_json::json!({
                "at": s.at,
                "conversation_kind": s.conversation_kind.as_str(),
                "member_count": s.member_count,
                "sender_role": s.sender_role.as_str(),
                "platform": s.platform,
                "owner": s.owner,
                "category": s.category,
                "domain": s.domain,
                "lists": serde_json::to_string(&s.lists)?,
                "treatment": s.treatment,
                "preview": s.preview,
                "policy_version": s.policy_version,
                "policies": serde_json::to_string(&s.policies)?,
                "bidi": s.bidi,
                "mixed_script": s.mixed_script,
            }))
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(Some(serde_json::Value::Array(rows).to_string()))
}
